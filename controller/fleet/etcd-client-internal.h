/* etcd-client-internal.h — what the files of the etcd client (etcd*.c) share: the client and
 * response buffer structs and the helpers the transport and the watch both use. */
#pragma once

#include "etcd-internal.h"
#include "curl-dl.h" /* libcurl through dlopen: fleet mode only */
#include <inttypes.h>
#include <limits.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include "jsonget.h"
#include "util.h"

/* --- transport --------------------------------------------------------------------------- */

struct buf {
	char *data;
	size_t len, cap;
	bool overflow;
};
struct etcd {
	CURL *curl;
	struct curl_slist *hdrs;
	char *endpoints[ETCD_MAX_ENDPOINTS];
	size_t n, cur;
	unsigned timeout_ms, connect_timeout_ms;
	char *ca_file, *cert_file, *key_file, *user, *password;
	char *token;
	struct buf resp;
	long http;
	char curl_err[CURL_ERROR_SIZE];
	char err[ETCD_ERR_LEN];
};

static inline void json_putp(json_object **o)
{
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

/* --- shared between the files of this folder ---------------------------------- */

int etcd_buf_append(struct buf *b, const char *p, size_t n);
int etcd_curl_errno(CURLcode c);
int etcd_setup_handle(struct etcd *e, CURL *c);
int etcd_authenticate(struct etcd *e);
/* Sets the client's last error (etcd_last_error) to one line; returns r. */
int etcd_fail(struct etcd *e, int r, const char *fmt, ...) _printf_(3, 4);
