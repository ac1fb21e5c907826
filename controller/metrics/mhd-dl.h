/* mhd-dl.h — libmicrohttpd, loaded only when the metrics endpoint is configured: the HTTP
 * code calls these pointers (set by mhd_dl_load) through the usual names, so a node without
 * /metrics never maps libmicrohttpd or the GnuTLS stack under it (docs/DESIGN.md). */
#pragma once

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct mhd_dl {
	struct MHD_Daemon *(*start_daemon)(unsigned flags, uint16_t port,
					   MHD_AcceptPolicyCallback apc, void *apc_cls,
					   MHD_AccessHandlerCallback dh, void *dh_cls, ...);
	void (*stop_daemon)(struct MHD_Daemon *d);
	enum MHD_Result (*get_timeout)(struct MHD_Daemon *d, MHD_UNSIGNED_LONG_LONG *ret);
	enum MHD_Result (*run)(struct MHD_Daemon *d);
	const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *d,
						       enum MHD_DaemonInfoType t, ...);
	const char *(*lookup_connection_value)(struct MHD_Connection *c, enum MHD_ValueKind k,
					       const char *key);
	enum MHD_Result (*queue_response)(struct MHD_Connection *c, unsigned status,
					  struct MHD_Response *r);
	struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buf,
							    enum MHD_ResponseMemoryMode mode);
	enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *h,
					       const char *v);
	void (*destroy_response)(struct MHD_Response *r);
};
extern struct mhd_dl mhd_dl;

/* Loads libmicrohttpd.so.12 once (thread-safe). 0, or -ENOENT (libmicrohttpd12 is not
 * installed), -ENOSYS (a symbol is missing); err gets one line saying which. */
int mhd_dl_load(char *err, size_t errsz);

#ifndef MHD_DL_IMPL
#define MHD_start_daemon		mhd_dl.start_daemon
#define MHD_stop_daemon			mhd_dl.stop_daemon
#define MHD_get_timeout			mhd_dl.get_timeout
#define MHD_run				mhd_dl.run
#define MHD_get_daemon_info		mhd_dl.get_daemon_info
#define MHD_lookup_connection_value	mhd_dl.lookup_connection_value
#define MHD_queue_response		mhd_dl.queue_response
#define MHD_create_response_from_buffer mhd_dl.create_response_from_buffer
#define MHD_add_response_header		mhd_dl.add_response_header
#define MHD_destroy_response		mhd_dl.destroy_response
#endif
