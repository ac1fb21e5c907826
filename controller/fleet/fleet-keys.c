/* fleet-keys.c — pure helpers of fleet mode: etcd key and task-spec parsing, small JSON
 * readers; unit-tested and fuzzed on strings. */
#include "fleet-internal.h"

uint64_t fleet_realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *fleet_jstr(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

double fleet_jget_d(json_object *o, const char *k)
{
	return jsonget_double(o, k, 0);
}
int64_t fleet_jget_i(json_object *o, const char *k)
{
	return jsonget_int64(o, k, 0);
}
const char *fleet_jget_s(json_object *o, const char *k)
{
	return jsonget_string(o, k, "");
}

/* --- pure helpers ------------------------------------------------------------------------- */

static int copy_seg(const char *s, size_t len, char *dst, size_t size)
{
	if (len == 0 || len >= size || memchr(s, '/', len))
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int fleet_parse_device_key(const char *key, char *node, size_t nsz, char *dev, size_t dsz)
{
	const char *p, *s;

	if (strncmp(key, K_NODES, strlen(K_NODES)))
		return -EINVAL;
	p = key + strlen(K_NODES);
	s = strstr(p, "/devices/");
	if (!s || copy_seg(p, (size_t)(s - p), node, nsz) < 0)
		return -EINVAL;
	s += strlen("/devices/");
	return copy_seg(s, strlen(s), dev, dsz);
}

int fleet_parse_assign_key(const char *key, char *node, size_t nsz, uint64_t *ret_id)
{
	const char *p, *s;
	uint64_t id;

	if (strncmp(key, K_ASSIGN, strlen(K_ASSIGN)))
		return -EINVAL;
	p = key + strlen(K_ASSIGN);
	s = strchr(p, '/');
	if (!s || copy_seg(p, (size_t)(s - p), node, nsz) < 0)
		return -EINVAL;
	if (parse_u64(s + 1, &id) < 0 || id == 0)
		return -EINVAL;
	*ret_id = id;
	return 0;
}

void fleet_task_done(struct fleet_task *t)
{
	strv_free(t->argv, t->argc);
	t->argv = NULL;
	t->argc = 0;
}

int fleet_parse_task(const char *json, struct fleet_task *ret, char *err, size_t errsz)
{
	json_object *o = json_tokener_parse(json), *v, *a;
	struct fleet_task t = {0};
	int r = -EINVAL;
	size_t n;

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(err, errsz, __VA_ARGS__);                                                 \
		goto out;                                                                          \
	} while (0)
	if (!o || !json_object_is_type(o, json_type_object))
		BAD("not a JSON object");
	if (!json_object_object_get_ex(o, "id", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0)
		BAD("id: missing or not a positive integer");
	t.id = (uint64_t)json_object_get_int64(v);
	if (!json_object_object_get_ex(o, "queue", &v) ||
	    !json_object_is_type(v, json_type_string) || !*json_object_get_string(v) ||
	    strlen(json_object_get_string(v)) >= sizeof(t.queue))
		BAD("queue: missing or invalid");
	snprintf(t.queue, sizeof(t.queue), "%s", json_object_get_string(v));
	if (!json_object_object_get_ex(o, "cpu", &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) ||
	    !(json_object_get_double(v) > 0) || !isfinite(json_object_get_double(v)))
		BAD("cpu: missing or not > 0");
	t.cpu = json_object_get_double(v);
	if (!json_object_object_get_ex(o, "mem", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0)
		BAD("mem: missing or not a positive integer");
	t.mem = (uint64_t)json_object_get_int64(v);
	if (!json_object_object_get_ex(o, "argv", &a) || !json_object_is_type(a, json_type_array) ||
	    (n = json_object_array_length(a)) == 0 || n > 256)
		BAD("argv: missing or invalid");
	t.argv = calloc(n + 1, sizeof(char *));
	if (!t.argv) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string))
			BAD("argv[%zu]: not a string", i);
		t.argv[i] = strdup(json_object_get_string(v));
		if (!t.argv[i]) {
			r = -ENOMEM;
			goto out;
		}
		t.argc = i + 1;
	}
	if (json_object_object_get_ex(o, "device", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    strlen(json_object_get_string(v)) >= sizeof(t.device))
			BAD("device: not a device name");
		snprintf(t.device, sizeof(t.device), "%s", json_object_get_string(v));
	}
	t.submit_us = (uint64_t)fleet_jget_i(o, "submit_us");
	t.assigned_us = (uint64_t)fleet_jget_i(o, "assigned_us");
	t.cancel = json_object_object_get_ex(o, "cancel", &v) && json_object_get_boolean(v);
	*ret = t;
	memset(&t, 0, sizeof(t));
	r = 0;
out:
#undef BAD
	fleet_task_done(&t);
	json_object_put(o);
	return r;
}

/* --- keys ------------------------------------------------------------------------------- */

void fleet_key_id(char *buf, size_t size, const char *prefix, uint64_t id)
{
	snprintf(buf, size, "%s%016" PRIu64, prefix, id);
}

void fleet_key_assign(char *buf, size_t size, const char *node, uint64_t id)
{
	snprintf(buf, size, K_ASSIGN "%s/%016" PRIu64, node, id);
}
