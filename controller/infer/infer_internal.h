/* infer_internal.h — what the graph code (infer.c) and the kernels (infer_kernels.c) of the
 * reference workload share. */
#pragma once

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#include "infer.h"
#include "util.h"

/* --- shared between the files of this folder ---------------------------------- */

size_t infer_elems(struct infer_shape s);
