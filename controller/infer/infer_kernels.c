/* infer_kernels.c — the forward pass: im2col + cblas_sgemm for convolutions and FC, direct
 * kernels for depthwise conv, pooling, add and concat, split over threads. */
#include "infer_internal.h"

void openblas_set_num_threads(int num_threads);

/* Threads for the direct kernels; process-wide like OpenBLAS's own setting. */
static unsigned direct_threads = 1;

void infer_set_threads(unsigned n)
{
	n = n ? n : 1;
	openblas_set_num_threads((int)n);
	__atomic_store_n(&direct_threads, n > 64 ? 64 : n, __ATOMIC_RELAXED);
}

/* Static split of [0, n) over the threads; below min_items per thread it runs inline, where
 * a thread start (~20 us) would cost more than it saves. */
struct pf_part {
	void (*fn)(void *ctx, size_t lo, size_t hi);
	void *ctx;
	size_t lo, hi;
};

static void *pf_main(void *a)
{
	struct pf_part *p = a;
	p->fn(p->ctx, p->lo, p->hi);
	return NULL;
}

static void parallel_for(size_t n, size_t work_per_item,
			 void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx)
{
	unsigned t = __atomic_load_n(&direct_threads, __ATOMIC_RELAXED);
	pthread_t th[64];
	struct pf_part part[64];
	bool started[64] = {false};

	if (t > n)
		t = (unsigned)n;
	if (t <= 1 || n * work_per_item < 200000) {
		fn(ctx, 0, n);
		return;
	}
	for (unsigned i = 0; i < t; i++)
		part[i] = (struct pf_part){fn, ctx, n * i / t, n * (i + 1) / t};
	for (unsigned i = 1; i < t; i++)
		started[i] = pthread_create(&th[i], NULL, pf_main, &part[i]) == 0;
	fn(ctx, part[0].lo, part[0].hi);
	for (unsigned i = 1; i < t; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			fn(ctx, part[i].lo,
			   part[i].hi); /* could not start one: do its share here */
	}
}

/* ---- kernels ---------------------------------------------------------------------- */

static const float *src_of(const struct infer_model *m, uint32_t in)
{
	return in == INFER_INPUT ? m->input : m->layers[in].act;
}

struct im2col_ctx {
	const float *x;
	struct infer_shape in;
	uint32_t c0;
	const struct infer_layer *l;
	float *col;
};

/* Channels [lo, hi) of the group starting at c0: each channel owns kh*kw rows of col. */
static void im2col_part(void *arg, size_t lo, size_t hi)
{
	const struct im2col_ctx *a = arg;
	const struct infer_layer *l = a->l;
	size_t oh = l->out.h, ow = l->out.w, p = lo * l->kh * l->kw * oh * ow;
	for (size_t c = a->c0 + lo; c < a->c0 + hi; c++)
		for (uint32_t ky = 0; ky < l->kh; ky++)
			for (uint32_t kx = 0; kx < l->kw; kx++) {
				const float *xc = a->x + c * a->in.h * a->in.w;
				float *col = a->col;
				for (size_t y = 0; y < oh; y++) {
					long iy = (long)(y * l->sh + ky) - (long)l->ph;
					if (iy < 0 || iy >= (long)a->in.h) {
						memset(col + p, 0, ow * sizeof(float));
						p += ow;
						continue;
					}
					for (size_t xx = 0; xx < ow; xx++) {
						long ix = (long)(xx * l->sw + kx) - (long)l->pw;
						col[p++] =
						    (ix < 0 || ix >= (long)a->in.w)
							? 0.0f
							: xc[(size_t)iy * a->in.w + (size_t)ix];
					}
				}
			}
}

static void im2col(const float *x, struct infer_shape in, uint32_t c0, uint32_t cn,
		   const struct infer_layer *l, float *col)
{
	struct im2col_ctx a = {x, in, c0, l, col};
	parallel_for(cn, (size_t)l->kh * l->kw * l->out.h * l->out.w, im2col_part, &a);
}

struct bias_ctx {
	float *y;
	size_t plane;
	const float *bias;
	bool relu;
};

static void bias_part(void *arg, size_t lo, size_t hi)
{
	const struct bias_ctx *a = arg;
	for (size_t c = lo; c < hi; c++) {
		float b = a->bias ? a->bias[c] : 0.0f;
		float *p = a->y + c * a->plane;
		for (size_t i = 0; i < a->plane; i++) {
			float v = p[i] + b;
			p[i] = a->relu && v < 0 ? 0.0f : v;
		}
	}
}

static void bias_relu(float *y, size_t channels, size_t plane, const float *bias, bool relu)
{
	struct bias_ctx a = {y, plane, bias, relu};
	parallel_for(channels, plane, bias_part, &a);
}

struct dw_ctx {
	const float *x;
	float *y;
	struct infer_shape in;
	const struct infer_layer *l;
};

/* Depthwise: one kh x kw filter per channel, direct, channels [lo, hi). */
static void dw_part(void *arg, size_t lo, size_t hi)
{
	const struct dw_ctx *a = arg;
	const struct infer_layer *l = a->l;
	struct infer_shape in = a->in;
	size_t plane = (size_t)l->out.h * l->out.w;
	for (size_t c = lo; c < hi; c++) {
		const float *xc = a->x + c * in.h * in.w, *wc = l->weight + c * l->kh * l->kw;
		float *yc = a->y + c * plane;
		for (uint32_t oy = 0; oy < l->out.h; oy++)
			for (uint32_t ox = 0; ox < l->out.w; ox++) {
				float acc = 0;
				for (uint32_t ky = 0; ky < l->kh; ky++) {
					long iy = (long)(oy * l->sh + ky) - (long)l->ph;
					if (iy < 0 || iy >= (long)in.h)
						continue;
					for (uint32_t kx = 0; kx < l->kw; kx++) {
						long ix = (long)(ox * l->sw + kx) - (long)l->pw;
						if (ix >= 0 && ix < (long)in.w)
							acc += xc[iy * in.w + ix] *
							       wc[ky * l->kw + kx];
					}
				}
				yc[(size_t)oy * l->out.w + ox] = acc;
			}
	}
}

static void run_conv(struct infer_model *m, struct infer_layer *l)
{
	struct infer_shape in = l->in[0] == INFER_INPUT ? m->in : m->layers[l->in[0]].out;
	size_t plane = (size_t)l->out.h * l->out.w;
	const float *x0 = src_of(m, l->in[0]);

	for (uint32_t n = 0; n < m->batch; n++) {
		const float *x = x0 + n * infer_elems(in);
		float *y = l->act + n * infer_elems(l->out);
		if (l->groups == in.c && l->groups == l->cout && l->groups > 1) {
			struct dw_ctx a = {x, y, in, l};
			parallel_for(in.c, plane * l->kh * l->kw, dw_part, &a);
		} else {
			uint32_t cg = in.c / l->groups, og = l->cout / l->groups;
			size_t k = (size_t)cg * l->kh * l->kw;
			bool direct = l->kh == 1 && l->kw == 1 && l->sh == 1 && l->sw == 1 &&
				      !l->ph && !l->pw;
			for (uint32_t g = 0; g < l->groups; g++) {
				const float *col;
				if (direct) {
					col = x + (size_t)g * cg * plane;
				} else {
					im2col(x, in, g * cg, cg, l, m->scratch);
					col = m->scratch;
				}
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)og,
					    (int)plane, (int)k, 1.0f,
					    l->weight + (size_t)g * og * k, (int)k, col, (int)plane,
					    0.0f, y + (size_t)g * og * plane, (int)plane);
			}
		}
		bias_relu(y, l->cout, plane, l->bias, l->relu);
	}
}

struct pool_ctx {
	const struct infer_model *m;
	const struct infer_layer *l;
	struct infer_shape in;
	const float *x0;
};

/* Planes [lo, hi) of batch x channels. */
static void pool_part(void *arg, size_t lo, size_t hi)
{
	const struct pool_ctx *a = arg;
	const struct infer_layer *l = a->l;
	struct infer_shape in = a->in;
	bool max = l->op == INFER_MAXPOOL;

	for (size_t pl = lo; pl < hi; pl++) {
		const float *x = a->x0 + pl * in.h * in.w;
		float *y = l->act + pl * l->out.h * l->out.w;
		for (uint32_t oy = 0; oy < l->out.h; oy++)
			for (uint32_t ox = 0; ox < l->out.w; ox++) {
				long y0 = (long)oy * l->sh - l->ph, x0w = (long)ox * l->sw - l->pw;
				long y1 = y0 + l->kh, x1 = x0w + l->kw;
				/* avg counts the padded window, clipped to input + pad */
				long cy1 = y1 < (long)(in.h + l->ph) ? y1 : (long)(in.h + l->ph);
				long cx1 = x1 < (long)(in.w + l->pw) ? x1 : (long)(in.w + l->pw);
				float acc = max ? -INFINITY : 0.0f;
				for (long iy = y0 < 0 ? 0 : y0; iy < y1 && iy < (long)in.h; iy++)
					for (long ix = x0w < 0 ? 0 : x0w;
					     ix < x1 && ix < (long)in.w; ix++) {
						float v = x[iy * in.w + ix];
						if (max)
							acc = v > acc ? v : acc;
						else
							acc += v;
					}
				if (!max)
					acc /= (float)((cy1 - y0) * (cx1 - x0w));
				y[(size_t)oy * l->out.w + ox] = acc;
			}
	}
}

static void run_pool(struct infer_model *m, struct infer_layer *l)
{
	struct infer_shape in = l->in[0] == INFER_INPUT ? m->in : m->layers[l->in[0]].out;
	struct pool_ctx a = {m, l, in, src_of(m, l->in[0])};
	/* planes are contiguous across the batch: image n's channel c is plane n*C + c */
	parallel_for((size_t)m->batch * in.c, (size_t)l->out.h * l->out.w * l->kh * l->kw,
		     pool_part, &a);
}

static void run_gap(struct infer_model *m, struct infer_layer *l)
{
	struct infer_shape in = m->layers[l->in[0]].out;
	const float *x0 = src_of(m, l->in[0]);
	size_t plane = (size_t)in.h * in.w;
	for (uint32_t n = 0; n < m->batch; n++)
		for (uint32_t c = 0; c < in.c; c++) {
			const float *x = x0 + n * infer_elems(in) + c * plane;
			double acc = 0;
			for (size_t i = 0; i < plane; i++)
				acc += x[i];
			l->act[n * in.c + c] = (float)(acc / (double)plane);
		}
}

static void run_fc(struct infer_model *m, struct infer_layer *l)
{
	struct infer_shape in = l->in[0] == INFER_INPUT ? m->in : m->layers[l->in[0]].out;
	size_t nin = infer_elems(in);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m->batch, (int)l->cout, (int)nin,
		    1.0f, src_of(m, l->in[0]), (int)nin, l->weight, (int)nin, 0.0f, l->act,
		    (int)l->cout);
	for (uint32_t n = 0; n < m->batch; n++)
		bias_relu(l->act + (size_t)n * l->cout, l->cout, 1, l->bias, l->relu);
}

static void run_add(struct infer_model *m, struct infer_layer *l)
{
	const float *a = src_of(m, l->in[0]), *b = src_of(m, l->in[1]);
	size_t n = infer_elems(l->out) * m->batch;
	for (size_t i = 0; i < n; i++) {
		float v = a[i] + b[i];
		l->act[i] = l->relu && v < 0 ? 0.0f : v;
	}
}

static void run_concat(struct infer_model *m, struct infer_layer *l)
{
	size_t plane = (size_t)l->out.h * l->out.w;
	for (uint32_t n = 0; n < m->batch; n++) {
		float *y = l->act + n * infer_elems(l->out);
		for (uint32_t i = 0; i < l->n_in; i++) {
			struct infer_shape s = m->layers[l->in[i]].out;
			memcpy(y, src_of(m, l->in[i]) + n * infer_elems(s),
			       infer_elems(s) * sizeof(float));
			y += (size_t)s.c * plane;
		}
	}
}

int infer_forward(struct infer_model *m, const bool *run, double *ret_ms)
{
	if (!m || !m->allocated)
		return -EINVAL;
#if defined(__SSE__)
	/* flush denormals: random weights must not hit the slow path */
	_mm_setcsr(_mm_getcsr() | 0x8040);
#endif
	for (size_t i = 0; i < m->n; i++) {
		struct infer_layer *l = &m->layers[i];
		uint64_t t0;
		if (run && !run[i])
			continue;
		t0 = now_nsec();
		switch (l->op) {
		case INFER_CONV:
			run_conv(m, l);
			break;
		case INFER_MAXPOOL:
		case INFER_AVGPOOL:
			run_pool(m, l);
			break;
		case INFER_GAP:
			run_gap(m, l);
			break;
		case INFER_FC:
			run_fc(m, l);
			break;
		case INFER_ADD:
			run_add(m, l);
			break;
		case INFER_CONCAT:
			run_concat(m, l);
			break;
		}
		if (ret_ms)
			ret_ms[i] = (double)(now_nsec() - t0) / 1e6;
	}
	return 0;
}
