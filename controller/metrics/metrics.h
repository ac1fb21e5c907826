/* metrics.h — Prometheus exposition (classic text 0.0.4 and OpenMetrics 1.0) written from
 * the caller's figures, and an HTTP endpoint (libmicrohttpd) run from an sd-event loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- exposition (pure) ---------------------------------------------------------------- */

enum metrics_format {
	METRICS_TEXT,	     /* text/plain; version=0.0.4 */
	METRICS_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

enum metrics_type { METRICS_GAUGE, METRICS_COUNTER, METRICS_HISTOGRAM };

/* The format an Accept header asks for: OpenMetrics when it is acceptable (q > 0) and no
 * less preferred than the text format, the text format otherwise (also for NULL, an empty
 * or an unparsable header: Prometheus' own fallback). */
enum metrics_format metrics_negotiate(const char *accept);
/* The Content-Type of a body in format f. */
const char *metrics_content_type(enum metrics_format f);

/* An exposition being written: families one after the other, each with its samples. Errors
 * (out of memory, a sample outside a family) are kept and returned by metrics_out_finish. */
struct metrics_out {
	enum metrics_format fmt;
	char *buf;
	size_t len, cap;
	int err;
	const char *family; /* the family being written; NULL before the first */
	enum metrics_type type;
};

void metrics_out_init(struct metrics_out *o, enum metrics_format fmt);
void metrics_out_free(struct metrics_out *o);
/* Starts a family. name is the family's name; a counter's is given without "_total" (the
 * suffix its samples carry in both formats, and its TYPE line in the text format). */
void metrics_family(struct metrics_out *o, const char *name, enum metrics_type type,
		    const char *help);
/* One sample of the current gauge or counter family. labels: name, value, name, value, ...,
 * NULL (NULL itself for none); values are escaped here. */
void metrics_sample(struct metrics_out *o, const char *const *labels, double value);
/* Ends the exposition ("# EOF" in OpenMetrics) and hands out the text (NUL-terminated). */
int metrics_out_finish(struct metrics_out *o, char **ret, size_t *ret_len);

/* A histogram with fixed upper bounds (ascending, finite; +Inf is implicit). */
#define METRICS_HIST_MAX 16
struct metrics_hist {
	size_t n;
	double le[METRICS_HIST_MAX];
	uint64_t counts[METRICS_HIST_MAX + 1]; /* per bucket, not cumulative; [n] is +Inf */
	uint64_t count;
	double sum;
};
/* -EINVAL unless 1 <= n <= METRICS_HIST_MAX and the bounds ascend. */
int metrics_hist_init(struct metrics_hist *h, const double *le, size_t n);
void metrics_hist_observe(struct metrics_hist *h, double v);
/* Its _bucket, _count and _sum samples in the current histogram family. */
void metrics_hist_write(struct metrics_out *o, const char *const *labels,
			const struct metrics_hist *h);

/* Escapes a label value (backslash, double quote, line feed) into buf; -ENOBUFS when it
 * does not fit. Exposed for tests and fuzzing. */
int metrics_escape_label(const char *v, char *buf, size_t size);

/* --- HTTP endpoint ------------------------------------------------------------------- */

struct sd_event;
struct metrics_http;

/* Renders the whole exposition in format fmt; the body is malloc'd and handed over. */
typedef int (*metrics_render_fn)(void *userdata, enum metrics_format fmt, char **ret_body,
				 size_t *ret_len);

struct metrics_http_params {
	int listen_fd;		  /* an open, listening TCP socket (socket activation), or -1 ... */
	const char *address;	  /* ... then "HOST:PORT" to bind ("[::1]:9464"; port 0 = any) */
	unsigned max_connections; /* at a time; default 64 */
	unsigned max_per_ip;	  /* default 16 */
	unsigned timeout_s;	  /* idle or unread connection closed; default 10 */
	unsigned cache_ms;	  /* a body is reused this long; default 0 = never */
};

/* Starts serving GET /metrics on the loop (loading libmicrohttpd on first use). listen_fd
 * is the endpoint's afterwards, also on failure. On failure err gets one line saying why. */
int metrics_http_new(struct sd_event *ev, const struct metrics_http_params *p,
		     metrics_render_fn render, void *userdata, struct metrics_http **ret, char *err,
		     size_t errsz);
void metrics_http_free(struct metrics_http *h);
/* The bound address as "HOST:PORT" (the port chosen for port 0). */
const char *metrics_http_address(const struct metrics_http *h);
struct metrics_http_stats {
	uint64_t requests, scrapes, errors; /* scrapes: answered /metrics requests */
	uint64_t scrapes_openmetrics;	    /* of which in OpenMetrics */
	uint64_t bytes;			    /* of scrape bodies rendered */
	uint64_t last_bytes;		    /* of the last one */
	unsigned connections;		    /* open now */
	double last_render_s;		    /* time the last render took */
};
void metrics_http_stats(const struct metrics_http *h, struct metrics_http_stats *ret);

/* "HOST:PORT" -> a sockaddr (numeric only: no name lookups in a daemon's start-up). */
struct sockaddr_storage;
int metrics_parse_address(const char *s, struct sockaddr_storage *ret, unsigned *ret_len);
