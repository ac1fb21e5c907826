/* distill_family.c — the synthetic cloud/edge model pairs the distiller is tuned and tested on:
 * they differ in kind (cache levels, cores, SIMD width, register pressure, unroll response,
 * noise), not only in sizes, so that defaults chosen on some can be judged on the others. */
#include <errno.h>

#include "distill.h"

/* A server-class cloud: 1 MiB L2 per core, 32 MiB L3, 16 cores, AVX2/AVX-512. */
static struct distill_device server(double lanes, uint64_t seed)
{
	return (struct distill_device){.cache_bytes = 1024.0 * 1024,
				       .l2_bytes = 32.0 * 1024 * 1024,
				       .cores = 16,
				       .vector = lanes,
				       .gflops = 8,
				       .regs = lanes * 16,
				       .noise_seed = seed,
				       .noise = 0.02};
}

int distill_family(unsigned id, struct distill_family *ret)
{
	struct distill_family f = {0};
	switch (id) {
	case 0: /* v1: one cache level each, no register or i-cache effects */
		f.name = "v1";
		distill_device_cloud(&f.cloud);
		distill_device_edge(&f.edge);
		break;
	case 1: /* Pi-3-class: 32 KiB L1 + 512 KiB shared L2, NEON, 32 vector registers */
		f.name = "pi3-l2";
		f.cloud = server(8, 0xc101);
		f.edge = (struct distill_device){.cache_bytes = 32.0 * 1024,
						 .l2_bytes = 512.0 * 1024,
						 .cores = 4,
						 .vector = 4,
						 .gflops = 1.2,
						 .regs = 64,
						 .noise_seed = 0xed01,
						 .noise = 0.03};
		break;
	case 2: /* Pi-4-class: 1 MiB L2, small i-cache (deep unrolling hurts), AVX-512 cloud */
		f.name = "pi4-l2-1m";
		f.cloud = server(16, 0xc102);
		f.edge = (struct distill_device){.cache_bytes = 32.0 * 1024,
						 .l2_bytes = 1024.0 * 1024,
						 .cores = 4,
						 .vector = 4,
						 .gflops = 1.8,
						 .regs = 64,
						 .unroll_kind = 1,
						 .noise_seed = 0xed02,
						 .noise = 0.03};
		break;
	case 3: /* two wide cores, one big cache level, noisy */
		f.name = "dual-wide";
		f.cloud = server(8, 0xc103);
		f.edge = (struct distill_device){.cache_bytes = 64.0 * 1024,
						 .cores = 2,
						 .vector = 8,
						 .gflops = 3,
						 .regs = 128,
						 .mem_penalty = 2,
						 .noise_seed = 0xed03,
						 .noise = 0.05};
		break;
	case 4: /* eight narrow cores, small L1 + 256 KiB L2, few registers */
		f.name = "octa-narrow";
		f.cloud = server(8, 0xc104);
		f.edge = (struct distill_device){.cache_bytes = 16.0 * 1024,
						 .l2_bytes = 256.0 * 1024,
						 .cores = 8,
						 .vector = 2,
						 .gflops = 1,
						 .regs = 32,
						 .mem_penalty = 4,
						 .noise_seed = 0xed04,
						 .noise = 0.02};
		break;
	case 5: /* v1 edge with a steep memory cliff and register pressure, two-level cloud */
		f.name = "cliff-regs";
		f.cloud = server(8, 0xc105);
		f.edge = (struct distill_device){.cache_bytes = 32.0 * 1024,
						 .cores = 4,
						 .vector = 4,
						 .gflops = 2,
						 .regs = 48,
						 .mem_penalty = 5,
						 .unroll_kind = 1,
						 .noise_seed = 0xed05,
						 .noise = 0.03};
		break;
	default:
		return -ENOENT;
	}
	*ret = f;
	return 0;
}
