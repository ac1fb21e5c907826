/* jps_models.c — built-in layer profiles of AlexNet, MobileNet-v2, GoogLeNet and ResNet-18
 * (torchvision layouts, 3x224x224 float32 input): exact output sizes, FLOP-estimated times. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jps.h"

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* Shapes are tracked while the graph is built; times come from FLOPs / rate until a
 * measured profile (edgeslice-infer --profile) replaces them. ReLU/BN are fused into
 * the layer that precedes them, as inference runtimes do. */
struct shape {
	uint32_t c, h, w;
};

struct builder {
	struct jps_model *m;
	double flops_per_ms;
	struct shape *shapes; /* per layer */
	int err;
};

static uint64_t bytes_of(struct shape s)
{
	return (uint64_t)s.c * s.h * s.w * 4u;
}

static uint32_t add(struct builder *b, const char *name, double flops, struct shape out,
		    const uint32_t *in, uint32_t nin)
{
	uint32_t idx = 0;
	struct shape *ns;

	if (b->err)
		return 0;
	b->err =
	    jps_model_add_layer(b->m, name, flops / b->flops_per_ms, bytes_of(out), in, nin, &idx);
	if (b->err)
		return 0;
	ns = realloc(b->shapes, (idx + 1) * sizeof(*ns));
	if (!ns) {
		b->err = -ENOMEM;
		return 0;
	}
	b->shapes = ns;
	ns[idx] = out;
	return idx;
}

static struct shape shape_of(struct builder *b, uint32_t in)
{
	if (in == JPS_INPUT)
		return (struct shape){3, 224, 224};
	return b->shapes[in];
}

static uint32_t out_dim(uint32_t in, uint32_t k, uint32_t s, uint32_t p, bool ceil_mode)
{
	uint32_t num = in + 2 * p - k;
	uint32_t o = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
	/* PyTorch: with ceil_mode the last window must start inside the input or left pad. */
	if (ceil_mode && (o - 1) * s >= in + p)
		o--;
	return o;
}

/* conv (+BN+ReLU) with groups; FLOPs = 2 * MACs. */
static uint32_t conv(struct builder *b, const char *name, uint32_t in, uint32_t cout, uint32_t k,
		     uint32_t s, uint32_t p, uint32_t groups)
{
	struct shape i = shape_of(b, in);
	struct shape o = {cout, out_dim(i.h, k, s, p, false), out_dim(i.w, k, s, p, false)};
	double macs = (double)o.c * o.h * o.w * ((double)i.c / groups) * k * k;
	return add(b, name, 2 * macs, o, &in, 1);
}

static uint32_t pool(struct builder *b, const char *name, uint32_t in, uint32_t k, uint32_t s,
		     uint32_t p, bool ceil_mode)
{
	struct shape i = shape_of(b, in);
	struct shape o = {i.c, out_dim(i.h, k, s, p, ceil_mode), out_dim(i.w, k, s, p, ceil_mode)};
	return add(b, name, (double)o.c * o.h * o.w * k * k, o, &in, 1);
}

static uint32_t gap(struct builder *b, const char *name, uint32_t in)
{
	struct shape i = shape_of(b, in);
	return add(b, name, (double)i.c * i.h * i.w, (struct shape){i.c, 1, 1}, &in, 1);
}

static uint32_t fc(struct builder *b, const char *name, uint32_t in, uint32_t out)
{
	struct shape i = shape_of(b, in);
	double nin = (double)i.c * i.h * i.w;
	return add(b, name, 2 * nin * out, (struct shape){out, 1, 1}, &in, 1);
}

static uint32_t add2(struct builder *b, const char *name, uint32_t x, uint32_t y)
{
	uint32_t in[2] = {x, y};
	struct shape o = shape_of(b, x);
	return add(b, name, (double)o.c * o.h * o.w, o, in, 2);
}

static uint32_t concat(struct builder *b, const char *name, const uint32_t *in, uint32_t n)
{
	struct shape o = shape_of(b, in[0]);
	o.c = 0;
	for (uint32_t i = 0; i < n; i++)
		o.c += shape_of(b, in[i]).c;
	/* A copy: one read and one write per element. */
	return add(b, name, (double)o.c * o.h * o.w, o, in, n);
}

static void build_alexnet(struct builder *b)
{
	uint32_t x = conv(b, "conv1", JPS_INPUT, 64, 11, 4, 2, 1);
	x = pool(b, "pool1", x, 3, 2, 0, false);
	x = conv(b, "conv2", x, 192, 5, 1, 2, 1);
	x = pool(b, "pool2", x, 3, 2, 0, false);
	x = conv(b, "conv3", x, 384, 3, 1, 1, 1);
	x = conv(b, "conv4", x, 256, 3, 1, 1, 1);
	x = conv(b, "conv5", x, 256, 3, 1, 1, 1);
	x = pool(b, "pool5", x, 3, 2, 0, false);
	x = fc(b, "fc6", x, 4096);
	x = fc(b, "fc7", x, 4096);
	fc(b, "fc8", x, 1000);
}

static void build_mobilenet_v2(struct builder *b)
{
	static const uint32_t cfg[][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2},
					  {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2},
					  {6, 320, 1, 1}};
	char nm[64];
	uint32_t x = conv(b, "conv0", JPS_INPUT, 32, 3, 2, 1, 1);
	unsigned blk = 1;

	for (size_t i = 0; i < ELEMENTS(cfg); i++)
		for (uint32_t r = 0; r < cfg[i][2]; r++, blk++) {
			uint32_t t = cfg[i][0], c = cfg[i][1], s = r ? 1 : cfg[i][3];
			uint32_t cin = shape_of(b, x).c, y = x;
			if (t != 1) {
				snprintf(nm, sizeof(nm), "b%u.expand", blk);
				y = conv(b, nm, y, cin * t, 1, 1, 0, 1);
			}
			snprintf(nm, sizeof(nm), "b%u.dw", blk);
			y = conv(b, nm, y, cin * t, 3, s, 1, cin * t);
			snprintf(nm, sizeof(nm), "b%u.project", blk);
			y = conv(b, nm, y, c, 1, 1, 0, 1);
			if (s == 1 && cin == c) {
				snprintf(nm, sizeof(nm), "b%u.add", blk);
				y = add2(b, nm, x, y);
			}
			x = y;
		}
	x = conv(b, "conv_last", x, 1280, 1, 1, 0, 1);
	x = gap(b, "avgpool", x);
	fc(b, "fc", x, 1000);
}

static uint32_t inception(struct builder *b, const char *n, uint32_t x, uint32_t c1, uint32_t r3,
			  uint32_t c3, uint32_t r5, uint32_t c5, uint32_t pp)
{
	char nm[64];
	uint32_t br[4];

	snprintf(nm, sizeof(nm), "%s.b1", n);
	br[0] = conv(b, nm, x, c1, 1, 1, 0, 1);
	snprintf(nm, sizeof(nm), "%s.b2r", n);
	br[1] = conv(b, nm, x, r3, 1, 1, 0, 1);
	snprintf(nm, sizeof(nm), "%s.b2", n);
	br[1] = conv(b, nm, br[1], c3, 3, 1, 1, 1);
	snprintf(nm, sizeof(nm), "%s.b3r", n);
	br[2] = conv(b, nm, x, r5, 1, 1, 0, 1);
	/* torchvision's GoogLeNet uses 3x3 here (not the paper's 5x5); same output shape. */
	snprintf(nm, sizeof(nm), "%s.b3", n);
	br[2] = conv(b, nm, br[2], c5, 3, 1, 1, 1);
	snprintf(nm, sizeof(nm), "%s.b4p", n);
	br[3] = pool(b, nm, x, 3, 1, 1, true);
	snprintf(nm, sizeof(nm), "%s.b4", n);
	br[3] = conv(b, nm, br[3], pp, 1, 1, 0, 1);
	snprintf(nm, sizeof(nm), "%s.concat", n);
	return concat(b, nm, br, 4);
}

static void build_googlenet(struct builder *b)
{
	uint32_t x = conv(b, "conv1", JPS_INPUT, 64, 7, 2, 3, 1);
	x = pool(b, "pool1", x, 3, 2, 0, true);
	x = conv(b, "conv2", x, 64, 1, 1, 0, 1);
	x = conv(b, "conv3", x, 192, 3, 1, 1, 1);
	x = pool(b, "pool2", x, 3, 2, 0, true);
	x = inception(b, "3a", x, 64, 96, 128, 16, 32, 32);
	x = inception(b, "3b", x, 128, 128, 192, 32, 96, 64);
	x = pool(b, "pool3", x, 3, 2, 0, true);
	x = inception(b, "4a", x, 192, 96, 208, 16, 48, 64);
	x = inception(b, "4b", x, 160, 112, 224, 24, 64, 64);
	x = inception(b, "4c", x, 128, 128, 256, 24, 64, 64);
	x = inception(b, "4d", x, 112, 144, 288, 32, 64, 64);
	x = inception(b, "4e", x, 256, 160, 320, 32, 128, 128);
	x = pool(b, "pool4", x, 2, 2, 0, true);
	x = inception(b, "5a", x, 256, 160, 320, 32, 128, 128);
	x = inception(b, "5b", x, 384, 192, 384, 48, 128, 128);
	x = gap(b, "avgpool", x);
	fc(b, "fc", x, 1000);
}

static void build_resnet18(struct builder *b)
{
	static const uint32_t widths[4] = {64, 128, 256, 512};
	char nm[64];
	uint32_t x = conv(b, "conv1", JPS_INPUT, 64, 7, 2, 3, 1);

	x = pool(b, "maxpool", x, 3, 2, 1, false);
	for (unsigned st = 0; st < 4; st++)
		for (unsigned blk = 0; blk < 2; blk++) {
			uint32_t s = (st > 0 && blk == 0) ? 2 : 1, c = widths[st], y, sc = x;
			snprintf(nm, sizeof(nm), "layer%u.%u.conv1", st + 1, blk);
			y = conv(b, nm, x, c, 3, s, 1, 1);
			snprintf(nm, sizeof(nm), "layer%u.%u.conv2", st + 1, blk);
			y = conv(b, nm, y, c, 3, 1, 1, 1);
			if (s != 1 || shape_of(b, x).c != c) {
				snprintf(nm, sizeof(nm), "layer%u.%u.downsample", st + 1, blk);
				sc = conv(b, nm, x, c, 1, s, 0, 1);
			}
			snprintf(nm, sizeof(nm), "layer%u.%u.add", st + 1, blk);
			x = add2(b, nm, sc, y);
		}
	x = gap(b, "avgpool", x);
	fc(b, "fc", x, 1000);
}

static const struct {
	const char *name;
	void (*build)(struct builder *b);
} builtins[] = {
    {"alexnet", build_alexnet},
    {"mobilenet-v2", build_mobilenet_v2},
    {"googlenet", build_googlenet},
    {"resnet-18", build_resnet18},
};

const char *const *jps_builtin_names(void)
{
	static const char *const names[] = {"alexnet", "mobilenet-v2", "googlenet", "resnet-18",
					    NULL};
	return names;
}

int jps_builtin_model(const char *name, double gflops, struct jps_model **ret)
{
	char src[64];

	if (!name || !ret)
		return -EINVAL;
	if (gflops == 0)
		gflops = JPS_EST_GFLOPS;
	if (!isfinite(gflops) || gflops <= 0)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTS(builtins); i++) {
		struct builder b = {.flops_per_ms = gflops * 1e6};
		if (strcmp(builtins[i].name, name) != 0)
			continue;
		snprintf(src, sizeof(src), "flop-estimate@%.3ggflops", gflops);
		b.err = jps_model_new(name, src, 3u * 224 * 224 * 4, &b.m);
		if (b.err)
			return b.err;
		builtins[i].build(&b);
		free(b.shapes);
		if (b.err) {
			jps_model_free(b.m);
			return b.err;
		}
		*ret = b.m;
		return 0;
	}
	return -ENOENT;
}
