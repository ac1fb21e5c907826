// SPDX-License-Identifier: GPL-2.0
/* shaper.bpf.c — cls_bpf direct-action classifier under edgeslice's HTB root: picks the
 * leaf class of a packet from its socket's cgroup v2 id, else its ingress interface or source
 * address. */
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

static __always_inline int steer(struct __sk_buff *skb, __u32 *classid)
{
	skb->tc_classid = *classid & 0xffff;
	return TC_ACT_OK;
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
