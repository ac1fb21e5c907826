// SPDX-License-Identifier: GPL-2.0
/* shaper.bpf.c — cls_bpf direct-action classifier under edgeslice's HTB root: picks the
 * leaf class of a packet from its socket's cgroup v2 id (or the nearest matched ancestor's, for
 * a task that made cgroups of its own, such as an OCI container in task-N/ctr), else its
 * ingress interface or source address. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "shaper.h"

#define ETH_P_IP      0x0800
#define ETH_P_IPV6    0x86DD
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK     0

char LICENSE[] SEC("license") = "GPL";

/* Values are full HTB class ids (major:minor). Only the minor reaches the kernel through
 * skb->tc_classid (a 16-bit field); the major comes from the filter's own classid (e5:). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHAPER_MAX_TASKS);
	__type(key, __u64);
	__type(value, __u32);
} cgroup_class SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHAPER_MAX_TASKS);
	__type(key, __u32);
	__type(value, __u32);
} ifindex_class SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHAPER_MAX_TASKS);
	__type(key, struct shaper_src_key);
	__type(value, __u32);
} source_class SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shaper_saved);
} saved_root SEC(".maps");

/* Entry L nonzero: some cgroup_class key is a cgroup at level L of the hierarchy (root = 0).
 * Only those levels are looked up among a socket's ancestors, so a packet whose own cgroup has
 * no class pays one hash lookup per level in use (one for edgeslice's task-N), not its depth.
 * One entry per level (not a bitmask) so concurrent writers need no read-modify-write. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SHAPER_MAX_LEVEL);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_levels SEC(".maps");

static __always_inline int steer(struct __sk_buff *skb, __u32 *classid)
{
	skb->tc_classid = *classid & 0xffff;
	return TC_ACT_OK;
}

/* The class of the deepest ancestor of the socket's cgroup that has one, among the levels in
 * use; NULL if none. bpf_skb_ancestor_cgroup_id() returns 0 past the cgroup's own level. */
static __always_inline __u32 *ancestor_class(struct __sk_buff *skb)
{
	__u32 *used, *classid, key;
	__u64 anc;

	/* The counter stays in a register (its copy, key, is what goes by address) so the
	 * verifier can see the loop is bounded. */
	for (int l = SHAPER_MAX_LEVEL - 1; l > 0; l--) {
		key = (__u32)l;
		used = bpf_map_lookup_elem(&cgroup_levels, &key);
		if (!used || !*used)
			continue;
		anc = bpf_skb_ancestor_cgroup_id(skb, l);
		if (!anc)
			continue;
		classid = bpf_map_lookup_elem(&cgroup_class, &anc);
		if (classid)
			return classid;
	}
	return NULL;
}

SEC("tc")
int shaper_classify(struct __sk_buff *skb)
{
	struct shaper_src_key src = {};
	__u64 cgid = bpf_skb_cgroup_id(skb);
	__u32 ifindex = skb->ingress_ifindex;
	__u32 *classid;

	/* Local sockets: the cgroup the sending process was in when it created the socket. */
	if (cgid) {
		classid = bpf_map_lookup_elem(&cgroup_class, &cgid);
		if (!classid)
			classid = ancestor_class(skb);
		if (classid)
			return steer(skb, classid);
	}
	/* Forwarded traffic (a task in its own netns behind a veth) has no socket here. */
	if (ifindex) {
		classid = bpf_map_lookup_elem(&ifindex_class, &ifindex);
		if (classid)
			return steer(skb, classid);
	}
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		src.family = 2;
		if (bpf_skb_load_bytes_relative(skb, 12, src.addr, 4, BPF_HDR_START_NET))
			return TC_ACT_UNSPEC;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		src.family = 10;
		if (bpf_skb_load_bytes_relative(skb, 8, src.addr, 16, BPF_HDR_START_NET))
			return TC_ACT_UNSPEC;
	} else {
		/* Referencing saved_root here ties its lifetime to the attached program: the
		 * saved qdisc must outlive the process that installed the filter. */
		__u32 zero = 0;
		struct shaper_saved *sv = bpf_map_lookup_elem(&saved_root, &zero);
		if (sv && sv->magic != SHAPER_SAVED_MAGIC)
			return TC_ACT_UNSPEC;
		return TC_ACT_UNSPEC;
	}
	classid = bpf_map_lookup_elem(&source_class, &src);
	if (classid)
		return steer(skb, classid);
	/* No match: HTB sends the packet to its default class. */
	return TC_ACT_UNSPEC;
}
