/* curl-dl.h — libcurl, loaded only when fleet mode needs it: the etcd client calls these
 * pointers (set by curl_dl_load) through the usual names. A node that is not in a fleet never
 * maps libcurl or the TLS library under it (docs/DESIGN.md, "libcurl on demand"). */
#pragma once

#define CURL_DISABLE_TYPECHECK 1 /* curl_easy_setopt stays a plain name, not a macro */
#include <curl/curl.h>

struct curl_dl {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption o, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO i, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode c);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *c);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *c);
	CURLMcode (*multi_perform)(CURLM *m, int *running);
	CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd *fds, unsigned n, int ms, int *ret);
	CURLMsg *(*multi_info_read)(CURLM *m, int *left);
	CURLMcode (*multi_cleanup)(CURLM *m);
	CURLMcode (*multi_setopt)(CURLM *m, CURLMoption o, ...);
	CURLMcode (*multi_socket_action)(CURLM *m, curl_socket_t s, int ev_bitmask, int *running);
};
extern struct curl_dl curl_dl;

/* Loads libcurl.so.4 once (thread-safe) and runs curl_global_init. 0, or -ENOENT (libcurl4
 * is not installed), -ENOSYS (a symbol is missing: too old), -ENOMEM (global init failed);
 * err gets one line saying which. */
int curl_dl_load(char *err, size_t errsz);

#ifndef CURL_DL_IMPL
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init	 curl_dl.global_init
#define curl_easy_init		 curl_dl.easy_init
#define curl_easy_setopt	 curl_dl.easy_setopt
#define curl_easy_perform	 curl_dl.easy_perform
#define curl_easy_getinfo	 curl_dl.easy_getinfo
#define curl_easy_cleanup	 curl_dl.easy_cleanup
#define curl_easy_strerror	 curl_dl.easy_strerror
#define curl_slist_append	 curl_dl.slist_append
#define curl_slist_free_all	 curl_dl.slist_free_all
#define curl_multi_init		 curl_dl.multi_init
#define curl_multi_add_handle	 curl_dl.multi_add_handle
#define curl_multi_remove_handle curl_dl.multi_remove_handle
#define curl_multi_perform	 curl_dl.multi_perform
#define curl_multi_poll		 curl_dl.multi_poll
#define curl_multi_info_read	 curl_dl.multi_info_read
#define curl_multi_cleanup	 curl_dl.multi_cleanup
#define curl_multi_setopt	 curl_dl.multi_setopt
#define curl_multi_socket_action curl_dl.multi_socket_action
#endif
