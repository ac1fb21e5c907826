/* curl-dl.c — dlopen of libcurl for the etcd client (curl-dl.h): fleet mode only. */
#define CURL_DL_IMPL 1
#include "curl-dl.h"
#undef curl_easy_setopt /* curl.h's argument-count macros: here they are names for dlsym */
#undef curl_easy_getinfo
#undef curl_multi_setopt

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>

#include "util.h"

struct curl_dl curl_dl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_err[256];

static void load(void)
{
	static const struct dl_sym syms[] = {
#define SYM(field, name) {#name, offsetof(struct curl_dl, field)}
	    SYM(global_init, curl_global_init),
	    SYM(easy_init, curl_easy_init),
	    SYM(easy_setopt, curl_easy_setopt),
	    SYM(easy_perform, curl_easy_perform),
	    SYM(easy_getinfo, curl_easy_getinfo),
	    SYM(easy_cleanup, curl_easy_cleanup),
	    SYM(easy_strerror, curl_easy_strerror),
	    SYM(slist_append, curl_slist_append),
	    SYM(slist_free_all, curl_slist_free_all),
	    SYM(multi_init, curl_multi_init),
	    SYM(multi_add_handle, curl_multi_add_handle),
	    SYM(multi_remove_handle, curl_multi_remove_handle),
	    SYM(multi_perform, curl_multi_perform),
	    SYM(multi_poll, curl_multi_poll),
	    SYM(multi_info_read, curl_multi_info_read),
	    SYM(multi_cleanup, curl_multi_cleanup),
	    SYM(multi_setopt, curl_multi_setopt),
	    SYM(multi_socket_action, curl_multi_socket_action),
#undef SYM
	};
	/* Never unloaded: libcurl's global state lives as long as the process. */
	load_rc =
	    dl_load_syms("libcurl.so.4", "fleet mode needs libcurl (Debian package libcurl4)", syms,
			 sizeof(syms) / sizeof(syms[0]), &curl_dl, load_err, sizeof(load_err));
	if (load_rc >= 0 && curl_dl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_err, sizeof(load_err), "libcurl: global initialisation failed");
		load_rc = -ENOMEM;
	}
}

int curl_dl_load(char *err, size_t errsz)
{
	pthread_once(&once, load);
	if (load_rc < 0 && err && errsz)
		snprintf(err, errsz, "%s", load_err);
	return load_rc;
}
