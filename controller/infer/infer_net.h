/* infer_net.h — offloading the tail of a forward pass: the binary tensor frame (with a
 * CRC-32C), the server that finishes jobs, and the two-stage client pipeline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "infer.h"

/* Frame layout (little-endian, docs/INFER.md):
 *   header (64 bytes) | n_tensors x descriptor (24 bytes) | payloads | message | crc32c
 * The CRC covers everything before it. */
#define INFER_FRAME_MAGIC	0x31465345u /* "ESF1" */
#define INFER_FRAME_VERSION	1
#define INFER_FRAME_MAX_TENSORS 16
#define INFER_FRAME_MAX_BYTES	(1ull << 31)

enum infer_frame_type {
	INFER_FRAME_REQUEST = 1, /* device -> server: frontier tensors of job `job` cut at `cut` */
	INFER_FRAME_REPLY = 2,	 /* server -> device: the model output; echoes the request CRC */
	INFER_FRAME_ERROR = 3,	 /* server -> device: message in the payload */
};

struct infer_frame_header {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t job;
	int32_t cut; /* layer index whose ancestors ran on the device; -1 = none (cloud only) */
	uint32_t input_size;
	uint32_t batch;
	uint32_t n_tensors;
	uint32_t echo_crc;  /* reply: the CRC of the request the server received */
	uint32_t server_us; /* reply: server compute time */
	uint32_t msg_len;   /* error: bytes of message after the payloads */
	uint64_t recv_ns;   /* reply: server's CLOCK_MONOTONIC when the whole request had arrived
			     * (comparable with the device's clock on the same host only) */
	char model[16];
} __attribute__((packed));

struct infer_tensor_desc {
	int32_t layer; /* -1 = the model input */
	uint32_t batch, c, h, w;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct infer_frame_header) == 64, "frame header is 64 bytes");
_Static_assert(sizeof(struct infer_tensor_desc) == 24, "tensor descriptor is 24 bytes");

/* An encoded frame in one buffer. */
struct infer_frame {
	uint8_t *buf;
	size_t len;
	uint32_t crc;
};
void infer_frame_done(struct infer_frame *f);

/* Request for job `job` cut after `cut` (INFER_INPUT-based semantics: cut < 0 = cloud):
 * the frontier tensors of m's current activations. */
int infer_frame_request(const struct infer_model *m, uint32_t job, int32_t cut,
			struct infer_frame *ret);
/* Validates a whole received frame (magic, version, sizes, CRC); -EBADMSG if corrupt. */
int infer_frame_check(const uint8_t *buf, size_t len, struct infer_frame_header *ret_hdr);

/* Reads one frame from fd (header first, then the announced rest); -ECONNRESET on EOF,
 * -ETIMEDOUT/-EAGAIN from socket timeouts, -EBADMSG on a corrupt frame. *ret_buf is
 * malloc'd. */
int infer_frame_read(int fd, uint8_t **ret_buf, size_t *ret_len);
int infer_write_all(int fd, const void *buf, size_t len);

/* Server: answers requests on an accepted connection until EOF. Models are built on
 * demand from the request (name, input size, batch) and cached in *cache. */
int infer_serve_conn(int fd, struct infer_model **cache, unsigned threads, uint64_t seed);
/* Listens on addr:port (addr NULL = any); *ret_port gets the bound port (port 0 picks). */
int infer_listen(const char *addr, uint16_t port, int *ret_fd, uint16_t *ret_port);
/* Connects with a timeout (ms) and sets send/receive timeouts on the socket. */
int infer_connect(const char *host, uint16_t port, unsigned timeout_ms, int *ret_fd);

/* One job of a batch: where it is cut (layer index, or JPS_CUT_CLOUD / JPS_CUT_LOCAL). */
struct infer_job_result {
	int32_t cut;
	double local_ms;  /* device compute */
	double done_ms;	  /* completion since the batch started (reply received) */
	uint64_t bytes;	  /* uploaded frame size */
	uint32_t crc;	  /* CRC of the request the device sent (== server's echo) */
	double upload_ms; /* when the server had the whole request, since the batch started
			   * (same-host clocks; 0 for local jobs) */
	double server_ms; /* server compute for this job */
	float out0;	  /* first logit of the result (same on device-only and offload) */
};

/* Runs jobs in the given order as a two-stage pipeline: a compute thread runs job i's
 * local part while the uploader thread sends job i-1 and waits for its reply. fd < 0
 * allowed only if every job is local. On failure *ret_failed_job names the job and the
 * error is returned (-ECONNRESET, -ETIMEDOUT, -EBADMSG, -EPROTO for a server error). */
int infer_run_batch(struct infer_model *m, int fd, const int32_t *cuts, size_t n_jobs,
		    struct infer_job_result *res, double *ret_makespan_ms, size_t *ret_failed_job,
		    char *err, size_t errlen);
