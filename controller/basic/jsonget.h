/* jsonget.h — JSON helpers. Lenient field readers for JSON the program itself produced
 * (daemon replies, etcd values it wrote): a missing or mistyped field reads as the default.
 * Input from outside goes through json_parse_strict and the strict parsers built on it
 * (proto.c, dapp.c, etcd-response.c, workload.c, ...), not through these readers. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Parses exactly one JSON document from text[0..len) (len <= INT_MAX) with at most depth
 * nesting levels and the tokener flags (e.g. JSON_TOKENER_STRICT); only characters of
 * trailing_ws may follow it (NULL: anything may). 0 with *ret; -ENOMEM; -EINVAL malformed
 * (*ret_jerr the tokener's error: json_tokener_continue = truncated, json_tokener_success
 * for a bare null); -EBADMSG trailing data. *ret_end (may be NULL): where the document ends. */
int json_parse_strict(const char *text, size_t len, int depth, int flags, const char *trailing_ws,
		      json_object **ret, enum json_tokener_error *ret_jerr, size_t *ret_end);

static inline double jsonget_double(json_object *o, const char *k, double def)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : def;
}

static inline int64_t jsonget_int64(json_object *o, const char *k, int64_t def)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : def;
}

static inline const char *jsonget_string(json_object *o, const char *k, const char *def)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : def;
}
