/* infer_net_internal.h — what the frame code, the offload server and the device pipeline of
 * the reference workload share. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "infer_net.h"
#include "util.h"

/* --- shared between the files of this folder ---------------------------------- */

size_t infer_tensor_elems(const struct infer_tensor_desc *d);
struct infer_shape infer_shape_of_layer(const struct infer_model *m, int32_t layer);
float *infer_data_of_layer(struct infer_model *m, int32_t layer);
int infer_frame_build(const struct infer_frame_header *h, const struct infer_tensor_desc *d,
		      const float *const *data, const char *msg, struct infer_frame *ret);
