/* shaper.h — layout shared by the shaper's BPF classifier (bpf/shaper.bpf.c) and its user
 * space (controller/shaper.c): map keys and the saved pre-existing root qdisc. */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SHAPER_MAX_TASKS 4096
/* Levels of the cgroup hierarchy a match may sit at (bits of the cgroup_levels map). */
#define SHAPER_MAX_LEVEL 32

/* Key of map source_class: an IPv4 (family 2, first 4 bytes of addr) or IPv6 (family 10)
 * source address of traffic that reaches the uplink without a local socket. */
struct shaper_src_key {
	__u32 family;
	__u8 addr[16];
};

#define SHAPER_SAVED_MAGIC    0x65735348u /* "esSH" */
#define SHAPER_SAVED_OPTS_MAX 2048

/* The root qdisc that was on the device before edgeslice replaced it, kept in the one-entry
 * array map saved_root so it lives exactly as long as our qdisc does (see docs/SHAPER.md). */
struct shaper_saved {
	__u32 magic;
	__u32 handle;	    /* 0 = the kernel's default root: restore by deleting ours */
	__u64 parent_rate;  /* bytes/s of class <major>:1 as configured */
	__u32 gso_max_size; /* the device's own, put back with the root; 0 = unknown */
	__u32 pad;
	char kind[16];
	__u32 opts_type; /* nla_type of TCA_OPTIONS as dumped (may carry NLA_F_NESTED) */
	__u32 opts_len;	 /* 0 = the qdisc had no TCA_OPTIONS */
	__u8 opts[SHAPER_SAVED_OPTS_MAX];
};
