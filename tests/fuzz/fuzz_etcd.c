/* fuzz_etcd.c — libFuzzer target for the etcd gateway client's response parsers and base64.
 * The first byte picks the parser; every rejection is one non-empty line, every accepted kv is
 * NUL-terminated, and base64 that decodes re-encodes to the same text (it is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(int r, const char *err)
{
	if (r >= 0)
		return;
	if (!err[0] || strchr(err, '\n'))
		abort();
}

static void check_kv(const struct etcd_kv *kv)
{
	if (!kv->key || !kv->value || kv->value[kv->value_len] != '\0' || kv->mod_revision == 0)
		abort();
}

static void fuzz_b64(const char *s, size_t len)
{
	char *d, *again;
	size_t dlen;

	if (etcd_b64_decode(s, len, &d, &dlen) < 0)
		return;
	again = etcd_b64_encode(d, dlen);
	if (!again || strlen(again) != len || memcmp(again, s, len) != 0)
		abort();
	free(again);
	free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ETCD_ERR_LEN] = "";
	const char *s;
	int64_t a = 0, b = 0;
	int r;

	if (size < 1)
		return 0;
	s = (const char *)data + 1;
	size--;
	switch (data[0] % 8) {
	case 0: {
		struct etcd_kvs kvs;
		r = etcd_parse_range(s, size, &kvs, err);
		if (r == 0) {
			for (size_t i = 0; i < kvs.n; i++)
				check_kv(&kvs.kvs[i]);
			etcd_kvs_done(&kvs);
		}
		break;
	}
	case 1: {
		struct etcd_watch_msg m;
		r = etcd_parse_watch_msg(s, size, &m, err);
		if (r == 0) {
			for (size_t i = 0; i < m.n_events; i++)
				check_kv(&m.events[i].kv);
			etcd_watch_msg_done(&m);
		}
		break;
	}
	case 2:
		r = etcd_parse_txn(s, size, &a, err);
		if (r > 1)
			abort();
		check_error(r, err);
		r = etcd_parse_txn_result(s, size, &a, err);
		if (r > 1)
			abort();
		break;
	case 3:
		r = etcd_parse_lease_grant(s, size, &a, &b, err);
		if (r == 0 && (a == 0 || b <= 0))
			abort();
		break;
	case 4:
		r = etcd_parse_lease_keepalive(s, size, &a, err);
		if (r == 0 && a <= 0)
			abort();
		break;
	case 5: {
		char *tok = NULL;
		r = etcd_parse_auth(s, size, &tok, err);
		if (r == 0 && (!tok[0] || strpbrk(tok, "\r\n")))
			abort();
		free(tok);
		break;
	}
	case 6:
		r = etcd_parse_delete(s, size, &a, err);
		r = r < 0 ? r : etcd_parse_header(s, size, &b, err);
		break;
	default:
		fuzz_b64(s, size);
		r = 0;
		break;
	}
	check_error(r, err);
	return 0;
}
