/* mhd-dl.c — dlopen of libmicrohttpd for the metrics endpoint (mhd-dl.h): only a daemon
 * that serves /metrics maps it. */
#define MHD_DL_IMPL 1
#include "mhd-dl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "util.h"

struct mhd_dl mhd_dl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_err[256];

static void load(void)
{
	static const struct dl_sym syms[] = {
#define SYM(field, name) {#name, offsetof(struct mhd_dl, field)}
	    SYM(start_daemon, MHD_start_daemon),
	    SYM(stop_daemon, MHD_stop_daemon),
	    SYM(get_timeout, MHD_get_timeout),
	    SYM(run, MHD_run),
	    SYM(get_daemon_info, MHD_get_daemon_info),
	    SYM(lookup_connection_value, MHD_lookup_connection_value),
	    SYM(queue_response, MHD_queue_response),
	    SYM(create_response_from_buffer, MHD_create_response_from_buffer),
	    SYM(add_response_header, MHD_add_response_header),
	    SYM(destroy_response, MHD_destroy_response),
#undef SYM
	};
	/* Never unloaded: its TLS library's global state lives as long as the process. */
	load_rc = dl_load_syms("libmicrohttpd.so.12",
			       "metrics need libmicrohttpd (Debian package libmicrohttpd12)", syms,
			       sizeof(syms) / sizeof(syms[0]), &mhd_dl, load_err, sizeof(load_err));
}

int mhd_dl_load(char *err, size_t errsz)
{
	pthread_once(&once, load);
	if (load_rc < 0 && err && errsz)
		snprintf(err, errsz, "%s", load_err);
	return load_rc;
}
