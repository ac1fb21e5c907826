/* metrics-expo.c — writes the Prometheus text format 0.0.4 and OpenMetrics 1.0 from figures
 * the caller supplies, and picks between them from an HTTP Accept header. Pure: no I/O. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics.h"

const char *metrics_content_type(enum metrics_format f)
{
	return f == METRICS_OPENMETRICS
		   ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
		   : "text/plain; version=0.0.4; charset=utf-8";
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* One media range "type/sub; k=v; q=0.5" in [p, end): which format it names (-1 for one we
 * do not serve; the wildcards any-type and text-any mean the text format) and its q
 * (default 1). -EINVAL on a bad q. */
static int media_range(const char *p, const char *end, int *ret_fmt, double *ret_q)
{
	const char *semi = memchr(p, ';', (size_t)(end - p)), *tend = semi ? semi : end;
	size_t tlen;
	double q = 1;

	p = skip_ws(p, tend);
	while (tend > p && (tend[-1] == ' ' || tend[-1] == '\t'))
		tend--;
	tlen = (size_t)(tend - p);
	if (tlen == 28 && !strncasecmp(p, "application/openmetrics-text", tlen))
		*ret_fmt = METRICS_OPENMETRICS;
	else if ((tlen == 10 && !strncasecmp(p, "text/plain", tlen)) ||
		 (tlen == 6 && !strncasecmp(p, "text/*", tlen)) ||
		 (tlen == 3 && !strncasecmp(p, "*/*", tlen)))
		*ret_fmt = METRICS_TEXT;
	else
		*ret_fmt = -1;
	while (semi) {
		const char *k = skip_ws(semi + 1, end), *next = memchr(k, ';', (size_t)(end - k));
		const char *pend = next ? next : end;
		if (pend - k >= 2 && (k[0] == 'q' || k[0] == 'Q') && k[1] == '=') {
			char num[16], *e;
			size_t n = (size_t)(pend - k - 2);
			if (n == 0 || n >= sizeof(num))
				return -EINVAL;
			memcpy(num, k + 2, n);
			num[n] = 0;
			while (n && (num[n - 1] == ' ' || num[n - 1] == '\t'))
				num[--n] = 0;
			errno = 0;
			q = strtod(num, &e);
			if (errno || *e || !(q >= 0 && q <= 1))
				return -EINVAL;
		}
		semi = next;
	}
	*ret_q = q;
	return 0;
}

enum metrics_format metrics_negotiate(const char *accept)
{
	double best_om = -1, best_text = -1;
	const char *p, *end;

	if (!accept)
		return METRICS_TEXT;
	p = accept;
	end = accept + strlen(accept);
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p)), *rend = comma ? comma : end;
		int fmt;
		double q;
		if (media_range(p, rend, &fmt, &q) < 0)
			return METRICS_TEXT;
		if (fmt == METRICS_OPENMETRICS && q > best_om)
			best_om = q;
		else if (fmt == METRICS_TEXT && q > best_text)
			best_text = q;
		p = comma ? comma + 1 : end;
	}
	return best_om > 0 && best_om >= best_text ? METRICS_OPENMETRICS : METRICS_TEXT;
}

/* --- the writer --------------------------------------------------------------------- */

void metrics_out_init(struct metrics_out *o, enum metrics_format fmt)
{
	*o = (struct metrics_out){.fmt = fmt};
}

void metrics_out_free(struct metrics_out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = o->cap = 0;
}

static char *reserve(struct metrics_out *o, size_t n)
{
	if (o->err)
		return NULL;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		char *b;
		while (cap < o->len + n + 1)
			cap *= 2;
		b = realloc(o->buf, cap);
		if (!b) {
			o->err = -ENOMEM;
			return NULL;
		}
		o->buf = b;
		o->cap = cap;
	}
	return o->buf + o->len;
}

static void put(struct metrics_out *o, const char *s, size_t n)
{
	char *p = reserve(o, n);
	if (!p)
		return;
	memcpy(p, s, n);
	o->len += n;
	o->buf[o->len] = 0;
}

static void puts_(struct metrics_out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Label values and (with quote = false) HELP text: \ and newline escaped, " too in values
 * and in OpenMetrics HELP. */
static void put_escaped(struct metrics_out *o, const char *s, bool quote)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\\')
			put(o, "\\\\", 2);
		else if (*p == '\n')
			put(o, "\\n", 2);
		else if (*p == '"' && quote)
			put(o, "\\\"", 2);
		else
			put(o, p, 1);
	}
}

int metrics_escape_label(const char *v, char *buf, size_t size)
{
	size_t n = 0;
	for (const char *p = v; *p; p++) {
		const char *e = *p == '\\'   ? "\\\\"
				: *p == '\n' ? "\\n"
				: *p == '"'  ? "\\\""
					     : NULL;
		size_t k = e ? 2 : 1;
		if (n + k >= size)
			return -ENOBUFS;
		memcpy(buf + n, e ? e : p, k);
		n += k;
	}
	if (n >= size)
		return -ENOBUFS;
	buf[n] = 0;
	return 0;
}

/* The shortest text that reads back as v; integers without an exponent up to 2^53. */
static void put_value(struct metrics_out *o, double v)
{
	char b[32];
	if (isnan(v))
		snprintf(b, sizeof(b), "NaN");
	else if (isinf(v))
		snprintf(b, sizeof(b), v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(b, sizeof(b), "%.0f", v);
	else {
		snprintf(b, sizeof(b), "%.15g", v);
		if (strtod(b, NULL) != v)
			snprintf(b, sizeof(b), "%.17g", v);
	}
	puts_(o, b);
}

static const char *type_name(enum metrics_type t)
{
	return t == METRICS_COUNTER ? "counter" : t == METRICS_HISTOGRAM ? "histogram" : "gauge";
}

void metrics_family(struct metrics_out *o, const char *name, enum metrics_type type,
		    const char *help)
{
	/* The text format names a counter's family as its samples; OpenMetrics without _total. */
	const char *sfx = type == METRICS_COUNTER && o->fmt == METRICS_TEXT ? "_total" : "";

	o->family = name;
	o->type = type;
	puts_(o, "# HELP ");
	puts_(o, name);
	puts_(o, sfx);
	puts_(o, " ");
	put_escaped(o, help, o->fmt == METRICS_OPENMETRICS);
	puts_(o, "\n# TYPE ");
	puts_(o, name);
	puts_(o, sfx);
	puts_(o, " ");
	puts_(o, type_name(type));
	puts_(o, "\n");
}

static void put_labels(struct metrics_out *o, const char *const *labels, const char *le)
{
	bool any = false;
	for (size_t i = 0; labels && labels[i]; i += 2) {
		puts_(o, any ? "," : "{");
		puts_(o, labels[i]);
		puts_(o, "=\"");
		put_escaped(o, labels[i + 1] ? labels[i + 1] : "", true);
		puts_(o, "\"");
		any = true;
		if (!labels[i + 1])
			break;
	}
	if (le) {
		puts_(o, any ? ",le=\"" : "{le=\"");
		puts_(o, le);
		puts_(o, "\"");
		any = true;
	}
	if (any)
		puts_(o, "}");
}

static void line(struct metrics_out *o, const char *suffix, const char *const *labels,
		 const char *le, double v)
{
	puts_(o, o->family);
	puts_(o, suffix);
	put_labels(o, labels, le);
	puts_(o, " ");
	put_value(o, v);
	puts_(o, "\n");
}

void metrics_sample(struct metrics_out *o, const char *const *labels, double value)
{
	if (!o->family || o->type == METRICS_HISTOGRAM) {
		if (!o->err)
			o->err = -EINVAL;
		return;
	}
	line(o, o->type == METRICS_COUNTER ? "_total" : "", labels, NULL, value);
}

int metrics_hist_init(struct metrics_hist *h, const double *le, size_t n)
{
	if (n < 1 || n > METRICS_HIST_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(le[i]) || (i && le[i] <= le[i - 1]))
			return -EINVAL;
	*h = (struct metrics_hist){.n = n};
	memcpy(h->le, le, n * sizeof(*le));
	return 0;
}

void metrics_hist_observe(struct metrics_hist *h, double v)
{
	size_t i = 0;
	if (isnan(v))
		return;
	while (i < h->n && v > h->le[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

/* "0.005", "1.0", "+Inf": a bound as OpenMetrics' canonical numbers spell it. */
static void format_le(double le, char *b, size_t size)
{
	snprintf(b, size, "%.15g", le);
	if (!strpbrk(b, ".e"))
		strncat(b, ".0", size - strlen(b) - 1);
}

void metrics_hist_write(struct metrics_out *o, const char *const *labels,
			const struct metrics_hist *h)
{
	uint64_t cum = 0;
	char le[32];

	if (!o->family || o->type != METRICS_HISTOGRAM) {
		if (!o->err)
			o->err = -EINVAL;
		return;
	}
	for (size_t i = 0; i <= h->n; i++) {
		cum += h->counts[i];
		if (i < h->n)
			format_le(h->le[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		line(o, "_bucket", labels, le, (double)cum);
	}
	line(o, "_count", labels, NULL, (double)h->count);
	line(o, "_sum", labels, NULL, h->sum);
}

int metrics_out_finish(struct metrics_out *o, char **ret, size_t *ret_len)
{
	if (o->fmt == METRICS_OPENMETRICS)
		puts_(o, "# EOF\n");
	if (!o->err && !o->buf)
		put(o, "", 0);
	if (o->err) {
		int r = o->err;
		metrics_out_free(o);
		return r;
	}
	*ret = o->buf;
	*ret_len = o->len;
	o->buf = NULL;
	o->len = o->cap = 0;
	return 0;
}
