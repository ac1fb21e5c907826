/* parse.c — pure parsers for cgroup v2 stat files and /proc node files.
 * Strings in, numbers out: no I/O, so every format corner is unit-tested and fuzzed. */
#include "probes.h"
#include "util.h"

#include <math.h>

/* A decimal u64 in [s, s+len): digits only, no sign, no spaces, overflow checked. */
static int parse_dec(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/* A non-negative decimal like "12.34" (PSI averages); at most 64 characters. */
static int parse_fixed(const char *s, size_t len, double *ret)
{
	char buf[65];
	double v;
	bool dot = false;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' && !dot && i > 0 && i + 1 < len)
			dot = true;
		else if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (parse_double(buf, &v) < 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

static size_t line_len(const char *p)
{
	const char *nl = strchr(p, '\n');
	return nl ? (size_t)(nl - p) : strlen(p);
}

/* Finds the line whose first space-separated field is exactly key; returns the rest
 * of the line (after one or more blanks) through ret_val and ret_len. */
static int find_key(const char *text, const char *key, char sep, const char **ret_val,
		    size_t *ret_len)
{
	size_t klen = strlen(key);

	if (!text || klen == 0)
		return -EINVAL;
	for (const char *p = text; *p;) {
		size_t n = line_len(p);
		if (n > klen && memcmp(p, key, klen) == 0 && p[klen] == sep) {
			const char *v = p + klen + 1, *end = p + n;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			*ret_val = v;
			*ret_len = (size_t)(end - v);
			return 0;
		}
		if (n == klen && memcmp(p, key, klen) == 0)
			return -EINVAL; /* key without a value: truncated */
		p += n;
		if (*p == '\n')
			p++;
	}
	return -ENXIO;
}

int probe_parse_keyed(const char *text, const char *key, uint64_t *ret)
{
	const char *v;
	size_t len;
	uint64_t x;
	int r;

	r = find_key(text, key, ' ', &v, &len);
	if (r < 0)
		return r;
	r = parse_dec(v, len, &x);
	if (r < 0)
		return r;
	*ret = x;
	return 0;
}

int probe_parse_single(const char *text, uint64_t *ret)
{
	size_t len;
	uint64_t x;
	int r;

	if (!text)
		return -EINVAL;
	len = strlen(text);
	if (len > 0 && text[len - 1] == '\n')
		len--;
	r = parse_dec(text, len, &x);
	if (r < 0)
		return r;
	*ret = x;
	return 0;
}

/* Required keys fail the whole parse; optional ones read as 0 when missing but a present
 * key with a bad value is still an error (a corrupt file must not look like zeros). */
static int keyed_opt(const char *text, const char *key, uint64_t *ret)
{
	int r = probe_parse_keyed(text, key, ret);
	if (r == -ENXIO) {
		*ret = 0;
		return 0;
	}
	return r;
}

int probe_parse_cpu_stat(const char *text, struct probe_cpu_stat *ret)
{
	struct probe_cpu_stat s = {};
	int r;

	if ((r = probe_parse_keyed(text, "usage_usec", &s.usage_usec)) < 0 ||
	    (r = probe_parse_keyed(text, "user_usec", &s.user_usec)) < 0 ||
	    (r = probe_parse_keyed(text, "system_usec", &s.system_usec)) < 0)
		return r;
	r = probe_parse_keyed(text, "nr_periods", &s.nr_periods);
	if (r == 0) {
		if ((r = probe_parse_keyed(text, "nr_throttled", &s.nr_throttled)) < 0 ||
		    (r = probe_parse_keyed(text, "throttled_usec", &s.throttled_usec)) < 0)
			return r;
		s.has_throttle = true;
	} else if (r != -ENXIO)
		return r;
	*ret = s;
	return 0;
}

int probe_parse_mem_events(const char *text, struct probe_mem_events *ret)
{
	struct probe_mem_events e = {};
	int r;

	if ((r = probe_parse_keyed(text, "low", &e.low)) < 0 ||
	    (r = probe_parse_keyed(text, "high", &e.high)) < 0 ||
	    (r = probe_parse_keyed(text, "max", &e.max)) < 0 ||
	    (r = probe_parse_keyed(text, "oom", &e.oom)) < 0 ||
	    (r = probe_parse_keyed(text, "oom_kill", &e.oom_kill)) < 0)
		return r;
	*ret = e;
	return 0;
}

int probe_parse_mem_stat(const char *text, struct probe_mem_stat *ret)
{
	struct probe_mem_stat m = {};
	int r;

	if ((r = probe_parse_keyed(text, "anon", &m.anon)) < 0 ||
	    (r = probe_parse_keyed(text, "file", &m.file)) < 0 ||
	    (r = keyed_opt(text, "kernel", &m.kernel)) < 0 ||
	    (r = keyed_opt(text, "shmem", &m.shmem)) < 0 ||
	    (r = keyed_opt(text, "slab", &m.slab)) < 0 ||
	    (r = keyed_opt(text, "sock", &m.sock)) < 0 ||
	    (r = keyed_opt(text, "pgfault", &m.pgfault)) < 0 ||
	    (r = keyed_opt(text, "pgmajfault", &m.pgmajfault)) < 0 ||
	    (r = keyed_opt(text, "inactive_file", &m.inactive_file)) < 0)
		return r;
	*ret = m;
	return 0;
}

/* "avg10=0.12 avg60=0.00 avg300=0.00 total=1234": exactly these four fields in order. */
static int parse_psi_fields(const char *s, size_t len, struct probe_psi_line *ret)
{
	static const char *const names[] = {"avg10=", "avg60=", "avg300=", "total="};
	struct probe_psi_line l = {};
	const char *p = s, *end = s + len;

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		size_t nlen = strlen(names[i]), vlen = 0;
		int r;
		if ((size_t)(end - p) < nlen || memcmp(p, names[i], nlen) != 0)
			return -EINVAL;
		p += nlen;
		while (p + vlen < end && p[vlen] != ' ')
			vlen++;
		if (i == 3)
			r = parse_dec(p, vlen, &l.total_usec);
		else
			r = parse_fixed(p, vlen, i == 0 ? &l.avg10 : i == 1 ? &l.avg60 : &l.avg300);
		if (r < 0)
			return r;
		p += vlen;
		if (i < 3) {
			if (p >= end || *p != ' ')
				return -EINVAL;
			p++;
		}
	}
	if (p != end)
		return -EINVAL;
	*ret = l;
	return 0;
}

int probe_parse_psi(const char *text, struct probe_psi *ret)
{
	struct probe_psi psi = {};
	const char *v;
	size_t len;
	int r;

	r = find_key(text, "some", ' ', &v, &len);
	if (r < 0)
		return r;
	r = parse_psi_fields(v, len, &psi.some);
	if (r < 0)
		return r;
	r = find_key(text, "full", ' ', &v, &len);
	if (r == 0) {
		r = parse_psi_fields(v, len, &psi.full);
		if (r < 0)
			return r;
		psi.has_full = true;
	} else if (r != -ENXIO)
		return r;
	*ret = psi;
	return 0;
}

int probe_parse_proc_stat(const char *text, struct probe_proc_stat *ret)
{
	/* user nice system idle iowait irq softirq steal [guest guest_nice] */
	uint64_t f[10] = {};
	size_t nf = 0;
	unsigned ncpus = 0;
	const char *v = NULL;
	size_t len = 0;
	bool seen = false;

	if (!text)
		return -EINVAL;
	for (const char *p = text; *p;) {
		size_t n = line_len(p);
		if (n >= 4 && memcmp(p, "cpu ", 4) == 0 && !seen) {
			seen = true;
			v = p + 4;
			len = n - 4;
		} else if (n > 3 && memcmp(p, "cpu", 3) == 0 && p[3] >= '0' && p[3] <= '9')
			ncpus++;
		p += n;
		if (*p == '\n')
			p++;
	}
	if (!seen)
		return -ENXIO;
	for (const char *p = v, *end = v + len; p < end;) {
		size_t tl = 0;
		int r;
		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			break;
		while (p + tl < end && p[tl] != ' ')
			tl++;
		if (nf >= ELEMENTSOF(f))
			return -EINVAL;
		r = parse_dec(p, tl, &f[nf++]);
		if (r < 0)
			return r;
		p += tl;
	}
	if (nf < 8 || ncpus == 0) /* steal exists since 2.6.11; fewer fields is truncation */
		return -EINVAL;
	uint64_t busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
	ret->busy_ticks = busy;
	ret->total_ticks = busy + f[3] + f[4];
	ret->ncpus = ncpus;
	return 0;
}

int probe_parse_meminfo(const char *text, const char *key, uint64_t *ret_bytes)
{
	const char *v;
	size_t len;
	uint64_t kb;
	int r;

	r = find_key(text, key, ':', &v, &len);
	if (r < 0)
		return r;
	if (len < 3 || memcmp(v + len - 3, " kB", 3) != 0)
		return -EINVAL;
	r = parse_dec(v, len - 3, &kb);
	if (r < 0)
		return r;
	if (kb > UINT64_MAX / 1024)
		return -ERANGE;
	*ret_bytes = kb * 1024;
	return 0;
}

int probe_hist_quantile(const uint64_t *hist, size_t nslots, double q, double *ret_ns)
{
	uint64_t total = 0, acc = 0;

	if (!hist || nslots == 0 || nslots > 64 || !(q >= 0.0 && q <= 1.0))
		return -EINVAL;
	for (size_t i = 0; i < nslots; i++) {
		if (total + hist[i] < total)
			return -ERANGE;
		total += hist[i];
	}
	if (total == 0)
		return -ENODATA;
	double target = q * (double)total;
	for (size_t i = 0; i < nslots; i++) {
		if (hist[i] == 0)
			continue;
		if ((double)(acc + hist[i]) >= target || i == nslots - 1) {
			double lo = i == 0 ? 0.0 : ldexp(1.0, (int)i);
			double hi = ldexp(1.0, (int)i + 1);
			double frac = ((target - (double)acc) / (double)hist[i]);
			if (frac < 0)
				frac = 0;
			if (frac > 1)
				frac = 1;
			*ret_ns = (lo + frac * (hi - lo)) * 1000.0;
			return 0;
		}
		acc += hist[i];
	}
	return -ENODATA; /* unreachable */
}
