/* jsonget.h — lenient field readers for JSON the program itself produced (daemon replies,
 * etcd values it wrote): a missing or mistyped field reads as the default. Input from
 * outside is validated by the strict parsers (proto.c, dconf.c, dstate.c), not by these. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

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
