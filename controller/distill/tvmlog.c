/* tvmlog.c — reads TVM auto-scheduler logs with json-c: strict per-line parsing with errors that
 * name the field, a streaming reader, and the writer used for the distilled best records. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include "tvmlog.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static void jput(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(jput)

static void tokfree(struct json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}
#define _cleanup_tok_ _cleanup_(tokfree)

_printf_(3, 4) static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	if (err && errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
		str_one_line(err);
	}
	return -EINVAL;
}

void tvmlog_record_done(struct tvmlog_record *r)
{
	if (!r)
		return;
	free(r->workload_key);
	free(r->target);
	free(r->steps);
	memset(r, 0, sizeof(*r));
}

static const char *const error_names[] = {
    "NO_ERROR",	    "INSTANTIATION_ERROR", "COMPILE_HOST", "COMPILE_DEVICE", "RUNTIME_DEVICE",
    "WRONG_ANSWER", "BUILD_TIMEOUT",	   "RUN_TIMEOUT",  "UNKNOWN_ERROR",
};

const char *tvmlog_error_name(int error_no)
{
	if (error_no >= 0 && (size_t)error_no < ELEMENTSOF(error_names))
		return error_names[error_no];
	return "UNKNOWN";
}

static bool is_int(struct json_object *o)
{
	return json_object_is_type(o, json_type_int);
}

static bool is_num(struct json_object *o)
{
	return json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double);
}

/* Integers of a workload key such as ["conv2d_layer", 1, 7, 7, [1, 1]], depth first. */
static void flatten_ints(struct json_object *o, struct tvmlog_record *r, int depth)
{
	if (depth > 8 || r->n_shape >= DISTILL_MAX_SHAPE)
		return;
	if (is_int(o)) {
		r->shape[r->n_shape++] = json_object_get_int64(o);
	} else if (json_object_is_type(o, json_type_array)) {
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++)
			flatten_ints(json_object_array_get_idx(o, i), r, depth + 1);
	}
}

static int parse_int_list(struct json_object *a, int64_t *out, int32_t *ret_n, size_t cap,
			  bool allow_null)
{
	if (!json_object_is_type(a, json_type_array))
		return -EINVAL;
	size_t n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		int64_t v;
		if (is_int(e))
			v = json_object_get_int64(e);
		else if (!e && allow_null)
			v = 0;
		else
			return -EINVAL;
		if (i < cap)
			out[i] = v;
	}
	*ret_n = (int32_t)(n < cap ? n : cap);
	return 0;
}

static int parse_step(struct json_object *a, size_t idx, struct distill_step *s, char *err,
		      size_t errsz)
{
	if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) < 2)
		return fail(err, errsz,
			    "\"i\"[1][1][%zu]: step must be an array [kind, stage, ...]", idx);
	struct json_object *k = json_object_array_get_idx(a, 0),
			   *st = json_object_array_get_idx(a, 1);
	if (!json_object_is_type(k, json_type_string))
		return fail(err, errsz, "\"i\"[1][1][%zu][0]: step kind must be a string", idx);
	const char *kname = json_object_get_string(k);
	if (!is_int(st))
		return fail(err, errsz, "\"i\"[1][1][%zu][1] (%s): stage id must be an integer",
			    idx, kname);
	size_t n = json_object_array_length(a);
	memset(s, 0, sizeof(*s));
	s->kind = distill_step_kind_from_name(kname);
	s->stage = (int32_t)json_object_get_int64(st);
	s->unroll = -1;
	struct json_object *x2 = n > 2 ? json_object_array_get_idx(a, 2) : NULL;
	struct json_object *x3 = n > 3 ? json_object_array_get_idx(a, 3) : NULL;
	struct json_object *x4 = n > 4 ? json_object_array_get_idx(a, 4) : NULL;
	int32_t cnt;
	int64_t tmp[DISTILL_MAX_ORDER];

	switch (s->kind) {
	case DISTILL_STEP_SP:
		if (n < 5 || !is_int(x2) || !(is_int(x3) || !x3))
			return fail(err, errsz,
				    "\"i\"[1][1][%zu] (SP): expected [\"SP\", stage, iter, extent, "
				    "[lengths], inner_to_outer]",
				    idx);
		s->iter = (int32_t)json_object_get_int64(x2);
		s->extent = x3 ? json_object_get_int64(x3) : 0;
		if (parse_int_list(x4, s->len, &cnt, DISTILL_MAX_LEN, true) < 0)
			return fail(
			    err, errsz,
			    "\"i\"[1][1][%zu][4] (SP): lengths must be an array of integers", idx);
		s->n_len = cnt;
		break;
	case DISTILL_STEP_RE:
	case DISTILL_STEP_FU:
		if (n < 3 || parse_int_list(x2, tmp, &cnt, DISTILL_MAX_ORDER, false) < 0)
			return fail(err, errsz,
				    "\"i\"[1][1][%zu][2] (%s): iterator list must be an array of "
				    "integers",
				    idx, kname);
		if (s->kind == DISTILL_STEP_RE) {
			s->n_order = cnt;
			for (int32_t i = 0; i < cnt; i++)
				s->order[i] = (int16_t)(tmp[i] > INT16_MAX ? INT16_MAX : tmp[i]);
		} else
			s->n_len = (int32_t)json_object_array_length(x2);
		break;
	case DISTILL_STEP_AN:
		if (n < 4 || !is_int(x2) || !is_int(x3))
			return fail(
			    err, errsz,
			    "\"i\"[1][1][%zu] (AN): expected [\"AN\", stage, iter, annotation]",
			    idx);
		s->iter = (int32_t)json_object_get_int64(x2);
		s->annotation = (int32_t)json_object_get_int64(x3);
		break;
	case DISTILL_STEP_PR:
		if (n < 4 || !is_int(x2) || !json_object_is_type(x3, json_type_string))
			return fail(
			    err, errsz,
			    "\"i\"[1][1][%zu] (PR): expected [\"PR\", stage, iter, \"pragma\"]",
			    idx);
		s->iter = (int32_t)json_object_get_int64(x2);
		{
			const char *p = json_object_get_string(x3);
			static const char key[] = "auto_unroll_max_step$";
			if (!strncmp(p, key, sizeof(key) - 1)) {
				char *end;
				errno = 0;
				long long v = strtoll(p + sizeof(key) - 1, &end, 10);
				if (errno || *end || end == p + sizeof(key) - 1 || v < 0)
					return fail(
					    err, errsz,
					    "\"i\"[1][1][%zu][3] (PR): bad unroll value \"%s\"",
					    idx, p);
				s->unroll = v;
			}
		}
		break;
	default:
		/* Other kinds only need their kind and stage for the features. */
		if (is_int(x2))
			s->iter = (int32_t)json_object_get_int64(x2);
		break;
	}
	return 0;
}

/* "i"[0][2..5]: the optional task fields after the workload key and the target. */
static int check_task_fields(struct json_object *task, size_t nt, char *err, size_t errsz)
{
	if (nt > 2) {
		struct json_object *hw = json_object_array_get_idx(task, 2);
		int64_t tmp[16];
		int32_t cnt;
		if (hw && parse_int_list(hw, tmp, &cnt, ELEMENTSOF(tmp), false) < 0)
			return fail(
			    err, errsz,
			    "\"i\"[0][2]: hardware parameters must be an array of integers");
	}
	if (nt > 3 && !json_object_is_type(json_object_array_get_idx(task, 3), json_type_string))
		return fail(err, errsz, "\"i\"[0][3]: task description must be a string");
	if (nt > 4 && !is_int(json_object_array_get_idx(task, 4)))
		return fail(err, errsz, "\"i\"[0][4]: layout rewrite option must be an integer");
	if (nt > 5) {
		struct json_object *names = json_object_array_get_idx(task, 5);
		if (!json_object_is_type(names, json_type_array))
			return fail(err, errsz, "\"i\"[0][5]: task input names must be an array");
		for (size_t k = 0; k < json_object_array_length(names); k++)
			if (!json_object_is_type(json_object_array_get_idx(names, k),
						 json_type_string))
				return fail(err, errsz,
					    "\"i\"[0][5][%zu]: task input name must be a string",
					    k);
	}
	return 0;
}

/* "r"[0]: the measured costs; their mean is the record's cost. */
static int parse_costs(struct json_object *costs, struct tvmlog_record *rec, char *err,
		       size_t errsz)
{
	size_t nc = json_object_array_length(costs);
	double sum = 0;
	for (size_t k = 0; k < nc; k++) {
		struct json_object *c = json_object_array_get_idx(costs, k);
		if (!is_num(c))
			return fail(err, errsz, "\"r\"[0][%zu]: cost must be a number", k);
		double d = json_object_get_double(c);
		if (!isfinite(d) || d < 0)
			return fail(err, errsz, "\"r\"[0][%zu]: cost must be finite and >= 0", k);
		if (k < TVMLOG_MAX_COSTS)
			rec->costs[k] = d;
		sum += d;
	}
	rec->n_costs = nc < TVMLOG_MAX_COSTS ? nc : TVMLOG_MAX_COSTS;
	rec->cost = sum / (double)nc;
	return 0;
}

int tvmlog_parse_line(const char *line, size_t len, struct tvmlog_record *ret, char *err,
		      size_t errsz)
{
	if (err && errsz)
		err[0] = '\0';
	if (!line || !ret)
		return -EINVAL;
	size_t p = 0;
	while (p < len && (line[p] == ' ' || line[p] == '\t' || line[p] == '\r'))
		p++;
	if (p == len || line[p] == '#')
		return -ENODATA;

	_cleanup_tok_ struct json_tokener *tok = NULL;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	_cleanup_json_ struct json_object *root = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success || !root) {
		if (err && errsz)
			snprintf(err, errsz, "bad JSON: %s",
				 jerr == json_tokener_continue ? "unexpected end of line"
							       : json_tokener_error_desc(jerr));
		return -EBADMSG;
	}
	size_t used = json_tokener_get_parse_end(tok);
	while (used < len && (line[used] == ' ' || line[used] == '\t' || line[used] == '\r'))
		used++;
	if (used != len) {
		if (err && errsz)
			snprintf(err, errsz, "bad JSON: trailing data after the record");
		return -EBADMSG;
	}
	if (!json_object_is_type(root, json_type_object))
		return fail(err, errsz, "record must be a JSON object with keys i, r, v");

	struct json_object *i, *r, *v;
	if (!json_object_object_get_ex(root, "v", &v))
		return fail(err, errsz, "missing key \"v\" (version)");
	if (!json_object_is_type(v, json_type_string))
		return fail(err, errsz, "\"v\": version must be a string");
	const char *vs = json_object_get_string(v);
	int minor = -1;
	if (!strncmp(vs, "v0.", 3) && vs[3] >= '2' && vs[3] <= '6' && vs[4] == '\0')
		minor = vs[3] - '0';
	if (minor < 0) {
		if (err && errsz)
			snprintf(err, errsz,
				 "\"v\": unknown version \"%.32s\" (v0.2..v0.6 supported)", vs);
		return -EPROTONOSUPPORT;
	}
	if (!json_object_object_get_ex(root, "i", &i))
		return fail(err, errsz, "missing key \"i\" (task and state)");
	if (!json_object_object_get_ex(root, "r", &r))
		return fail(err, errsz, "missing key \"r\" (result)");

	/* "i": [task, state] */
	if (!json_object_is_type(i, json_type_array) || json_object_array_length(i) != 2)
		return fail(err, errsz, "\"i\": expected [task, state]");
	struct json_object *task = json_object_array_get_idx(i, 0);
	struct json_object *state = json_object_array_get_idx(i, 1);
	size_t nt = json_object_is_type(task, json_type_array) ? json_object_array_length(task) : 0;
	if (nt < 2 || nt > 6)
		return fail(err, errsz, "\"i\"[0]: task must be an array of 2..6 fields");
	struct json_object *wk = json_object_array_get_idx(task, 0);
	struct json_object *tg = json_object_array_get_idx(task, 1);
	if (!json_object_is_type(wk, json_type_string))
		return fail(err, errsz, "\"i\"[0][0]: workload key must be a string");
	if (!json_object_is_type(tg, json_type_string))
		return fail(err, errsz, "\"i\"[0][1]: target must be a string");
	int q = check_task_fields(task, nt, err, errsz);
	if (q < 0)
		return q;
	if (!json_object_is_type(state, json_type_array) || json_object_array_length(state) < 2 ||
	    !json_object_is_type(json_object_array_get_idx(state, 1), json_type_array))
		return fail(err, errsz, "\"i\"[1]: state must be [stages, [steps]]");
	struct json_object *steps = json_object_array_get_idx(state, 1);

	/* "r": [costs, error_no, all_cost, timestamp] */
	if (!json_object_is_type(r, json_type_array) || json_object_array_length(r) != 4)
		return fail(err, errsz, "\"r\": expected [costs, error_no, all_cost, timestamp]");
	struct json_object *costs = json_object_array_get_idx(r, 0);
	struct json_object *eno = json_object_array_get_idx(r, 1);
	struct json_object *allc = json_object_array_get_idx(r, 2);
	struct json_object *ts = json_object_array_get_idx(r, 3);
	if (!json_object_is_type(costs, json_type_array) || json_object_array_length(costs) == 0)
		return fail(err, errsz, "\"r\"[0]: costs must be a non-empty array of numbers");
	if (!is_int(eno))
		return fail(err, errsz, "\"r\"[1]: error_no must be an integer");
	if (!is_num(allc))
		return fail(err, errsz, "\"r\"[2]: all_cost must be a number");
	if (!is_num(ts))
		return fail(err, errsz, "\"r\"[3]: timestamp must be a number");

	struct tvmlog_record rec = {.version_minor = minor, .n_task_fields = nt};
	q = parse_costs(costs, &rec, err, errsz);
	if (q < 0)
		return q;
	int64_t e = json_object_get_int64(eno);
	rec.error_no = e < 0 || e > INT32_MAX ? INT32_MAX : (int)e;
	rec.all_cost = json_object_get_double(allc);
	rec.timestamp = json_object_get_double(ts);
	if (rec.error_no == 0 && !(rec.cost > 0))
		return fail(err, errsz, "\"r\"[0]: a successful record needs a cost > 0");

	size_t ns = json_object_array_length(steps);
	_cleanup_free_ struct distill_step *sv = calloc(ns ? ns : 1, sizeof(*sv));
	if (!sv)
		return -ENOMEM;
	for (size_t k = 0; k < ns; k++) {
		q = parse_step(json_object_array_get_idx(steps, k), k, &sv[k], err, errsz);
		if (q < 0)
			return q;
	}

	/* The workload key is itself JSON; its integers are the shape. A key that is not JSON
	 * (a hash alone) just gives no shape. */
	const char *wks = json_object_get_string(wk);
	struct json_object *wkj = json_tokener_parse(wks);
	if (wkj) {
		flatten_ints(wkj, &rec, 0);
		json_object_put(wkj);
	}
	_cleanup_free_ char *wkey = strdup(wks);
	_cleanup_free_ char *target = strdup(json_object_get_string(tg));
	if (!wkey || !target)
		return -ENOMEM;
	rec.workload_key = TAKE_PTR(wkey);
	rec.target = TAKE_PTR(target);
	rec.steps = TAKE_PTR(sv);
	rec.n_steps = ns;
	*ret = rec;
	return 0;
}

int tvmlog_task_key(const struct tvmlog_record *r, char **ret)
{
	char *s = NULL;
	if (asprintf(&s, "%s\n%s", r->workload_key, r->target) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

#define MAX_LINE (16u << 20)

struct tvmlog_reader {
	int fd;
	char rbuf[65536];
	size_t rpos, rlen;
	char *buf;
	size_t cap;
	uint64_t lineno;
	uint64_t offset; /* of the next line */
};

int tvmlog_reader_open(const char *path, struct tvmlog_reader **ret)
{
	_cleanup_free_ struct tvmlog_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return negative_errno();
	struct stat st;
	if (fstat(r->fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? -EISDIR : negative_errno();
		close(r->fd);
		return e;
	}
	*ret = TAKE_PTR(r);
	return 0;
}

void tvmlog_reader_free(struct tvmlog_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r);
}

/* Reads one line through a 64 KiB window so a line past MAX_LINE is skipped, never held, and NUL
 * bytes cannot desynchronize the offsets. Returns its length with the newline, -EFBIG for an
 * over-long line; *ret_consumed is the bytes it took from the file (0 at EOF). */
static ssize_t read_line(struct tvmlog_reader *r, size_t *ret_consumed)
{
	size_t len = 0, consumed = 0;
	bool too_long = false;
	for (;;) {
		if (r->rpos == r->rlen) {
			ssize_t n = read(r->fd, r->rbuf, sizeof(r->rbuf));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -EIO;
			}
			if (n == 0)
				break; /* EOF */
			r->rpos = 0;
			r->rlen = (size_t)n;
		}
		const char *p = r->rbuf + r->rpos;
		size_t avail = r->rlen - r->rpos;
		const char *nl = memchr(p, '\n', avail);
		size_t seg = nl ? (size_t)(nl - p) + 1 : avail;
		if (!too_long && len + seg > MAX_LINE)
			too_long = true;
		if (!too_long) {
			if (len + seg + 1 > r->cap) {
				size_t nc = r->cap ? r->cap : 8192;
				while (nc < len + seg + 1)
					nc *= 2;
				char *nb = realloc(r->buf, nc);
				if (!nb)
					return -ENOMEM;
				r->buf = nb;
				r->cap = nc;
			}
			memcpy(r->buf + len, p, seg);
			len += seg;
		}
		consumed += seg;
		r->rpos += seg;
		if (nl)
			break;
	}
	*ret_consumed = consumed;
	if (too_long)
		return -EFBIG;
	return (ssize_t)len;
}

int tvmlog_reader_next(struct tvmlog_reader *r, const char **ret_line, size_t *ret_len,
		       uint64_t *ret_lineno, uint64_t *ret_offset)
{
	size_t consumed = 0;
	ssize_t n = read_line(r, &consumed);
	if (n == -EIO || n == -ENOMEM)
		return (int)n;
	if (consumed == 0)
		return 0;
	uint64_t off = r->offset;
	r->offset += consumed;
	r->lineno++;
	*ret_lineno = r->lineno;
	*ret_offset = off;
	if (n < 0)
		return (int)n;
	if (n > 0 && r->buf[n - 1] == '\n')
		r->buf[--n] = '\0';
	r->buf[n] = '\0';
	/* A huge line once must not pin its buffer for the rest of the file. */
	if (r->cap > (1u << 20) && (size_t)n < (1u << 16)) {
		char *small = strdup(r->buf);
		if (small) {
			free(r->buf);
			r->buf = small;
			r->cap = (size_t)n + 1;
		}
	}
	*ret_line = r->buf;
	*ret_len = (size_t)n;
	return 1;
}

int tvmlog_reader_pread(struct tvmlog_reader *r, uint64_t offset, size_t len, char **ret)
{
	_cleanup_free_ char *b = malloc(len + 1);
	if (!b)
		return -ENOMEM;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(r->fd, b + got, len - got, (off_t)(offset + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return -EIO; /* the log shrank under us */
		got += (size_t)n;
	}
	b[len] = '\0';
	*ret = TAKE_PTR(b);
	return 0;
}

int tvmlog_format_with_costs(const char *line, size_t len, const double *costs, size_t n_costs,
			     char **ret)
{
	if (!n_costs)
		return -EINVAL;
	_cleanup_tok_ struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	_cleanup_json_ struct json_object *root = json_tokener_parse_ex(tok, line, (int)len);
	struct json_object *r;
	if (!root || !json_object_object_get_ex(root, "r", &r) ||
	    !json_object_is_type(r, json_type_array) || json_object_array_length(r) != 4)
		return -EBADMSG;
	struct json_object *arr = json_object_new_array_ext((int)n_costs);
	if (!arr)
		return -ENOMEM;
	for (size_t k = 0; k < n_costs; k++) {
		char num[32];
		snprintf(num, sizeof(num), "%.9g", costs[k]);
		if (json_object_array_add(arr, json_object_new_double_s(costs[k], num)) < 0) {
			json_object_put(arr);
			return -ENOMEM;
		}
	}
	if (json_object_array_put_idx(r, 0, arr) < 0) {
		json_object_put(arr);
		return -ENOMEM;
	}
	/* Success: the measurement on this device did not fail. */
	json_object_array_put_idx(r, 1, json_object_new_int(0));
	const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_SPACED |
								 JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	char *out = strdup(s);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}
