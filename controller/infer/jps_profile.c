/* jps_profile.c — reads and writes JPS layer profiles (JSON via json-c, docs/JPS.md) and
 * resolves built-in profile names; every error is one line naming the field. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "infer.h"
#include "jps_profile.h"
#include "jsonget.h"
#include "util.h"

static void jfree(json_object **o)
{
	if (*o)
		json_object_put(*o);
}
static void modelfree(struct jps_model **m)
{
	jps_model_free(*m);
}

_printf_(3, 4) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = verrf(err, errlen, -EINVAL, fmt, ap);
	va_end(ap);
	return r;
}

/* Non-negative finite number (int or double). */
static int get_number(json_object *o, double *ret)
{
	double v;
	if (!o ||
	    !(json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int)))
		return -EINVAL;
	v = json_object_get_double(o);
	if (!isfinite(v) || v < 0)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int get_u64(json_object *o, uint64_t *ret)
{
	int64_t v;
	if (!o || !json_object_is_type(o, json_type_int))
		return -EINVAL;
	errno = 0;
	v = json_object_get_int64(o);
	if (v < 0 || errno == ERANGE)
		return -ERANGE;
	*ret = (uint64_t)v;
	return 0;
}

int jps_profile_parse(const char *json, size_t len, struct jps_model **ret, char *err,
		      size_t errlen)
{
	enum json_tokener_error je;
	_cleanup_(jfree) json_object *root = NULL;
	_cleanup_(modelfree) struct jps_model *m = NULL;
	json_object *jname, *jsrc = NULL, *jin, *jlayers;
	uint64_t input_bytes;
	size_t n;
	int r;

	if (!json || !ret)
		return -EINVAL;
	if (len > INT32_MAX)
		return fail(err, errlen, "profile: too large");
	r = json_parse_strict(json, len, 32, 0, " \t\n\v\f\r", &root, &je, NULL);
	if (r == -ENOMEM)
		return r;
	if (r == -EBADMSG)
		return fail(err, errlen, "profile: trailing data after the JSON object");
	if (r < 0)
		return fail(err, errlen, "profile: invalid JSON: %s",
			    json_tokener_error_desc(
				je == json_tokener_continue ? json_tokener_error_parse_eof : je));
	if (!json_object_is_type(root, json_type_object))
		return fail(err, errlen, "profile: must be a JSON object");
	if (!json_object_object_get_ex(root, "model", &jname) ||
	    !json_object_is_type(jname, json_type_string) || !json_object_get_string_len(jname))
		return fail(err, errlen, "model: missing or not a non-empty string");
	if (json_object_object_get_ex(root, "source", &jsrc) &&
	    !json_object_is_type(jsrc, json_type_string))
		return fail(err, errlen, "source: must be a string");
	if (!json_object_object_get_ex(root, "input_bytes", &jin))
		return fail(err, errlen, "input_bytes: missing");
	if (get_u64(jin, &input_bytes) < 0)
		return fail(err, errlen, "input_bytes: must be a non-negative integer");
	if (!json_object_object_get_ex(root, "layers", &jlayers) ||
	    !json_object_is_type(jlayers, json_type_array))
		return fail(err, errlen, "layers: missing or not an array");
	n = json_object_array_length(jlayers);
	if (n == 0)
		return fail(err, errlen, "layers: must not be empty");
	if (n > JPS_MAX_LAYERS)
		return fail(err, errlen, "layers: more than %u layers", JPS_MAX_LAYERS);
	r = jps_model_new(json_object_get_string(jname),
			  jsrc ? json_object_get_string(jsrc) : "unknown", input_bytes, &m);
	if (r < 0)
		return r;
	/* Pass 1: names and numbers, so inputs may refer forwards. */
	for (size_t i = 0; i < n; i++) {
		json_object *l = json_object_array_get_idx(jlayers, i), *x;
		double ms;
		uint64_t ob;
		if (!json_object_is_type(l, json_type_object))
			return fail(err, errlen, "layers[%zu]: must be an object", i);
		if (!json_object_object_get_ex(l, "name", &x) ||
		    !json_object_is_type(x, json_type_string) || !json_object_get_string_len(x))
			return fail(err, errlen,
				    "layers[%zu].name: missing or not a non-empty string", i);
		if (strcmp(json_object_get_string(x), "input") == 0)
			return fail(err, errlen,
				    "layers[%zu].name: \"input\" is reserved for the model input",
				    i);
		if (!json_object_object_get_ex(l, "compute_ms", &x))
			return fail(err, errlen, "layers[%zu].compute_ms: missing", i);
		if (get_number(x, &ms) < 0)
			return fail(err, errlen,
				    "layers[%zu].compute_ms: must be a finite number >= 0", i);
		if (!json_object_object_get_ex(l, "output_bytes", &x))
			return fail(err, errlen, "layers[%zu].output_bytes: missing", i);
		if (get_u64(x, &ob) < 0)
			return fail(err, errlen,
				    "layers[%zu].output_bytes: must be a non-negative integer", i);
		json_object_object_get_ex(l, "name", &x);
		r = jps_model_add_layer(m, json_object_get_string(x), ms, ob, NULL, 0, NULL);
		if (r < 0)
			return r;
	}
	/* Pass 2: edges. */
	for (size_t i = 0; i < n; i++) {
		json_object *l = json_object_array_get_idx(jlayers, i), *x;
		struct jps_layer *ly = &m->layers[i];
		size_t k;

		for (size_t w = 0; w < i; w++)
			if (strcmp(m->layers[w].name, ly->name) == 0)
				return fail(err, errlen, "layers[%zu].name: duplicate layer \"%s\"",
					    i, ly->name);
		if (!json_object_object_get_ex(l, "inputs", &x)) {
			/* Default: a chain. */
			ly->inputs = malloc(sizeof(uint32_t));
			if (!ly->inputs)
				return -ENOMEM;
			ly->inputs[0] = i ? (uint32_t)(i - 1) : JPS_INPUT;
			ly->n_inputs = 1;
			continue;
		}
		if (!json_object_is_type(x, json_type_array))
			return fail(err, errlen,
				    "layers[%zu].inputs: must be an array of layer names", i);
		k = json_object_array_length(x);
		if (k == 0)
			return fail(err, errlen,
				    "layers[%zu].inputs: must not be empty (use [\"input\"])", i);
		if (k > 64)
			return fail(err, errlen, "layers[%zu].inputs: more than 64 inputs", i);
		ly->inputs = calloc(k, sizeof(uint32_t));
		if (!ly->inputs)
			return -ENOMEM;
		for (size_t e = 0; e < k; e++) {
			json_object *s = json_object_array_get_idx(x, e);
			uint32_t idx;
			if (!json_object_is_type(s, json_type_string))
				return fail(err, errlen,
					    "layers[%zu].inputs[%zu]: must be a string", i, e);
			if (strcmp(json_object_get_string(s), "input") == 0)
				idx = JPS_INPUT;
			else if (jps_model_find_layer(m, json_object_get_string(s), &idx) < 0)
				return fail(err, errlen,
					    "layers[%zu].inputs[%zu]: unknown layer \"%s\"", i, e,
					    json_object_get_string(s));
			else if (idx == i)
				return fail(
				    err, errlen,
				    "layers[%zu].inputs[%zu]: layer \"%s\" feeds itself (cycle)", i,
				    e, ly->name);
			ly->inputs[e] = idx;
			ly->n_inputs = (uint32_t)(e + 1);
		}
	}
	{
		uint32_t bad = 0;
		r = jps_model_validate(m, &bad);
		if (r == -ELOOP) {
			fail(err, errlen, "layers[%u].inputs: cycle through layer \"%s\"", bad,
			     m->layers[bad].name);
			return -ELOOP;
		}
		if (r < 0)
			return fail(err, errlen, "layers[%u]: invalid (%s)", bad, strerror(-r));
	}
	*ret = TAKE_PTR(m);
	return 0;
}

int jps_profile_load(const char *spec, struct jps_model **ret, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	size_t len, sl;
	int r;

	if (!spec || !ret)
		return -EINVAL;
	sl = strlen(spec);
	if (!strchr(spec, '/') && !(sl > 5 && strcmp(spec + sl - 5, ".json") == 0)) {
		r = jps_builtin_model(spec, 0, ret);
		if (r == -ENOENT) {
			/* The workload's other graphs (vgg-19, inception-v3), FLOP-estimated the
			 * same way. */
			struct infer_model *im;
			char src[64];
			r = infer_model_new(spec, 0, 1, &im);
			if (r == 0) {
				snprintf(src, sizeof(src), "flop-estimate@%.3ggflops",
					 JPS_EST_GFLOPS);
				r = infer_to_jps(im, NULL, src, ret);
				infer_model_free(im);
				if (r < 0)
					fail(err, errlen, "%s: %s", spec, strerror(-r));
				return r;
			}
		}
		if (r == -ENOENT)
			fail(err, errlen,
			     "unknown model \"%s\" (built-in: alexnet, mobilenet-v2, googlenet, "
			     "resnet-18, vgg-19, inception-v3; or a .json file)",
			     spec);
		else if (r < 0)
			fail(err, errlen, "%s: %s", spec, strerror(-r));
		return r;
	}
	r = read_file_at(AT_FDCWD, spec, &buf, &len);
	if (r < 0) {
		fail(err, errlen, "%s: %s", spec, strerror(-r));
		return r;
	}
	{
		char inner[512] = "";
		r = jps_profile_parse(buf, len, ret, inner, sizeof(inner));
		if (r < 0)
			fail(err, errlen, "%s: %s", spec, inner[0] ? inner : strerror(-r));
	}
	return r;
}

int jps_profile_format(const struct jps_model *m, char **ret_json)
{
	_cleanup_(jfree) json_object *root = json_object_new_object();
	json_object *layers;
	const char *s;
	char *out;

	if (!m || !ret_json)
		return -EINVAL;
	if (!root)
		return -ENOMEM;
	layers = json_object_new_array();
	if (!layers)
		return -ENOMEM;
	json_object_object_add(root, "model", json_object_new_string(m->name));
	json_object_object_add(root, "source", json_object_new_string(m->source));
	json_object_object_add(root, "input_bytes", json_object_new_int64((int64_t)m->input_bytes));
	json_object_object_add(root, "layers", layers);
	for (size_t i = 0; i < m->n_layers; i++) {
		const struct jps_layer *l = &m->layers[i];
		json_object *o = json_object_new_object(), *in = json_object_new_array();
		if (!o || !in) {
			json_object_put(o);
			json_object_put(in);
			return -ENOMEM;
		}
		json_object_object_add(o, "name", json_object_new_string(l->name));
		json_object_object_add(o, "compute_ms", json_object_new_double(l->compute_ms));
		json_object_object_add(o, "output_bytes",
				       json_object_new_int64((int64_t)l->out_bytes));
		for (uint32_t k = 0; k < l->n_inputs; k++)
			json_object_array_add(
			    in, json_object_new_string(l->inputs[k] == JPS_INPUT
							   ? "input"
							   : m->layers[l->inputs[k]].name));
		json_object_object_add(o, "inputs", in);
		json_object_array_add(layers, o);
	}
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	if (asprintf(&out, "%s\n", s) < 0)
		return -ENOMEM;
	*ret_json = out;
	return 0;
}
