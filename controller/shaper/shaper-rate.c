/* shaper-rate.c — the shaper's pure rate maths: presets, rate parsing and formatting, class
 * sizing (burst, quantum) and class minor allocation; no netlink, no BPF. */
#include "shaper-internal.h"

/* ---- pure helpers ---------------------------------------------------------------------- */

static const struct {
	const char *name;
	uint64_t rate; /* bytes/s */
} presets[] = {
    {"3g", 137500},    /* 1.1 Mbit/s */
    {"4g", 731250},    /* 5.85 Mbit/s */
    {"wifi", 2360000}, /* 18.88 Mbit/s */
};

int shaper_preset(const char *name, uint64_t *ret_rate)
{
	for (size_t i = 0; name && i < ELEMENTSOF(presets); i++)
		if (strcasecmp(name, presets[i].name) == 0) {
			*ret_rate = presets[i].rate;
			return 0;
		}
	return -ENOENT;
}

int shaper_parse_rate(const char *s, uint64_t *ret_rate)
{
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	if (shaper_preset(s, &v) == 0) {
		*ret_rate = v;
		return 0;
	}
	r = parse_rate(s, &v);
	if (r < 0)
		return r;
	if (v < SHAPER_RATE_MIN || v > SHAPER_RATE_MAX)
		return -ERANGE;
	*ret_rate = v;
	return 0;
}

void shaper_format_rate(uint64_t rate, char *buf, size_t size)
{
	double bits = (double)rate * 8.0;

	if (bits >= 1e9)
		snprintf(buf, size, "%.4gGbit", bits / 1e9);
	else if (bits >= 1e6)
		snprintf(buf, size, "%.4gMbit", bits / 1e6);
	else if (bits >= 1e3)
		snprintf(buf, size, "%.4gKbit", bits / 1e3);
	else
		snprintf(buf, size, "%.4gbit", bits);
}

int shaper_size_class(uint64_t rate, uint32_t mtu, struct shaper_sizing *ret)
{
	uint64_t frame, burst, quantum;
	double frame_us, target;

	if (rate == 0 || mtu < 68 || mtu > 65535)
		return -EINVAL;
	frame = (uint64_t)mtu + L2_HEADER;
	/* The bucket must hold the largest packet plus the tokens that accrue while the qdisc
	 * waits to be woken (HTB's watchdog is an hrtimer, dequeue runs from softirq): tokens
	 * beyond the bucket are lost, and the class then falls short of its rate. TCP sizes
	 * GSO packets to ~1 ms of its rate, at least 2 segments: so 2 ms of rate (1 for the
	 * packet, 1 for wake-up slack) plus 3 frames (the 2-segment packet and one spare).
	 * 1 Mbit/s: 4792 B (38 ms); 5.85 Mbit/s: 6004 B; 1 Gbit/s: 254542 B (2 ms). */
	burst = rate * BURST_USEC / 1000000u + 3 * frame;
	if (burst > UINT32_MAX)
		return -ERANGE;
	/* DRR quantum among siblings: HTB warns outside [MTU, 200000]. */
	quantum = rate / R2Q;
	if (quantum < frame)
		quantum = frame;
	if (quantum > QUANTUM_MAX)
		quantum = QUANTUM_MAX;
	/* CoDel's 5 ms target is shorter than one frame's transmit time below ~2.4 Mbit/s; then
	 * it would drop on every standing packet. RFC 8289 §4.4: target >= 1-2 MTU times. */
	frame_us = (double)frame * 1e6 / (double)rate;
	target = fmax(5000.0, 1.5 * frame_us);
	if (target > 1e6)
		target = 1e6;
	ret->burst = (uint32_t)burst;
	ret->cburst = (uint32_t)burst;
	ret->quantum = (uint32_t)quantum;
	ret->target_us = (uint32_t)ceil(target);
	ret->interval_us = (uint32_t)fmax(100000.0, 20.0 * ceil(target));
	/* Fallback FIFO: 100 ms at the rate in frames, 32..10000 packets. */
	ret->fifo_limit = (uint32_t)(rate / 10 / frame);
	if (ret->fifo_limit < 32)
		ret->fifo_limit = 32;
	if (ret->fifo_limit > 10000)
		ret->fifo_limit = 10000;
	return 0;
}

int shaper_alloc_minor(const uint32_t *used, size_t n_used, uint32_t *ret_minor)
{
	for (uint32_t m = SHAPER_MINOR_FIRST; m <= SHAPER_MINOR_LAST; m++) {
		bool taken = false;
		for (size_t i = 0; i < n_used && !taken; i++)
			taken = used[i] == m;
		if (!taken) {
			*ret_minor = m;
			return 0;
		}
	}
	return -ENOSPC;
}

uint64_t shaper_default_rate(uint64_t parent_rate, uint64_t sum_task_rates)
{
	uint64_t floor = parent_rate / 100;

	if (floor < SHAPER_RATE_MIN)
		floor = SHAPER_RATE_MIN;
	if (sum_task_rates + floor >= parent_rate)
		return floor;
	return parent_rate - sum_task_rates;
}
