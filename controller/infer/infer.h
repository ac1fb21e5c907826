/* infer.h — the reference inference workload: real CNN forward passes (im2col + OpenBLAS
 * GEMM, depthwise conv, pooling, FC) with generated weights, layer by layer, timed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jps.h"

#define INFER_INPUT  UINT32_MAX
#define INFER_MAX_IN 6

enum infer_op {
	INFER_CONV, /* conv (+ fused BN/ReLU); groups == cin is depthwise */
	INFER_MAXPOOL,
	INFER_AVGPOOL, /* count_include_pad, as torchvision's Inception pools */
	INFER_GAP,     /* global average pool to 1x1 */
	INFER_FC,      /* flattens its input */
	INFER_ADD,     /* elementwise sum of two inputs (+ ReLU) */
	INFER_CONCAT,  /* channel concat */
};

struct infer_shape {
	uint32_t c, h, w;
};

struct infer_layer {
	char name[48];
	enum infer_op op;
	uint32_t in[INFER_MAX_IN];
	uint32_t n_in;
	uint32_t cout, kh, kw, sh, sw, ph, pw, groups;
	bool relu, ceil_mode;
	struct infer_shape out;
	double flops; /* per image */
	float *weight, *bias;
	size_t n_weight;
	float *act; /* batch x out */
};

struct infer_model {
	char name[32];
	struct infer_shape in;
	uint32_t batch;
	size_t n;
	struct infer_layer *layers;
	float *input;	    /* batch x in */
	float *scratch;	    /* im2col buffer */
	size_t scratch_len; /* floats */
	bool allocated;
};

/* Names: alexnet, mobilenet-v2, resnet-18, vgg-19, inception-v3, googlenet. input_size 0
 * = the model's default (224, 299 for inception-v3). Builds the graph and shapes only;
 * -ENOENT unknown model, -EINVAL input too small for the architecture. */
int infer_model_new(const char *name, uint32_t input_size, uint32_t batch,
		    struct infer_model **ret);
const char *const *infer_model_names(void);
/* Allocates weights (deterministic, He-uniform from seed) and activations. */
int infer_model_alloc(struct infer_model *m, uint64_t seed);
void infer_model_free(struct infer_model *m);
int infer_find_layer(const struct infer_model *m, const char *name, uint32_t *ret);
size_t infer_weight_bytes(const struct infer_model *m);
size_t infer_activation_bytes(const struct infer_model *m);
uint64_t infer_output_bytes(const struct infer_model *m, uint32_t layer); /* batch 1 */

/* Threads used by GEMM (OpenBLAS) and the direct kernels. */
void infer_set_threads(unsigned n);
/* Fills the input deterministically. */
void infer_fill_input(struct infer_model *m, uint64_t seed);

/* Runs the layers with run[i] true (all if run == NULL), in index order (which is
 * topological). Inputs of a run layer that do not run must already hold data (received
 * tensors). ret_ms (optional, n entries) gets each layer's wall time. */
int infer_forward(struct infer_model *m, const bool *run, double *ret_ms);

/* Marks layer v and its ancestors (the local part of a cut after v). */
void infer_mark_ancestors(const struct infer_model *m, uint32_t v, bool *local);
/* The tensors a cut uploads: local layers read by a non-local one (and INFER_INPUT if a
 * non-local layer reads the input). Returns the count written to ret (>= n entries). */
size_t infer_frontier(const struct infer_model *m, const bool *local, uint32_t *ret);

/* The planner's profile of this model: per-layer times (ms, batch 1) from ms[], output
 * bytes per image, the DAG edges. source: e.g. "measured". */
int infer_to_jps(const struct infer_model *m, const double *ms, const char *source,
		 struct jps_model **ret);

/* CRC-32C (Castagnoli) of a buffer, continuing from crc (0 to start). */
uint32_t infer_crc32c(uint32_t crc, const void *buf, size_t len);
