/* infer.c — CNN graphs (torchvision layouts): building, sizes, weights and inputs, and the
 * cuts JPS plans over; the forward pass is infer_kernels.c. */
#include "infer_internal.h"

/* ---- graph building ------------------------------------------------------------ */

struct gb {
	struct infer_model *m;
	int err;
};

static struct infer_shape shape_of(const struct gb *b, uint32_t in)
{
	return in == INFER_INPUT ? b->m->in : b->m->layers[in].out;
}

static uint32_t pool_dim(uint32_t in, uint32_t k, uint32_t s, uint32_t p, bool ceil_mode, int *err)
{
	if (in + 2 * p < k) {
		*err = -EINVAL; /* the input is too small for this architecture */
		return 1;
	}
	uint32_t num = in + 2 * p - k;
	uint32_t o = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
	if (ceil_mode && (o - 1) * s >= in + p)
		o--;
	return o;
}

static uint32_t push(struct gb *b, struct infer_layer *l)
{
	struct infer_layer *nl;
	if (b->err)
		return 0;
	nl = realloc(b->m->layers, (b->m->n + 1) * sizeof(*nl));
	if (!nl) {
		b->err = -ENOMEM;
		return 0;
	}
	b->m->layers = nl;
	nl[b->m->n] = *l;
	return (uint32_t)b->m->n++;
}

static uint32_t conv_hw(struct gb *b, const char *name, uint32_t in, uint32_t cout, uint32_t kh,
			uint32_t kw, uint32_t s, uint32_t ph, uint32_t pw, uint32_t groups,
			bool relu)
{
	struct infer_layer l = {.op = INFER_CONV,
				.in = {in},
				.n_in = 1,
				.cout = cout,
				.kh = kh,
				.kw = kw,
				.sh = s,
				.sw = s,
				.ph = ph,
				.pw = pw,
				.groups = groups,
				.relu = relu};
	struct infer_shape i;
	if (b->err)
		return 0;
	i = shape_of(b, in);
	snprintf(l.name, sizeof(l.name), "%s", name);
	l.out = (struct infer_shape){cout, pool_dim(i.h, kh, s, ph, false, &b->err),
				     pool_dim(i.w, kw, s, pw, false, &b->err)};
	if (i.c % groups || cout % groups) {
		b->err = -EINVAL;
		return 0;
	}
	l.n_weight = (size_t)cout * (i.c / groups) * kh * kw;
	l.flops = 2.0 * l.out.c * l.out.h * l.out.w * ((double)i.c / groups) * kh * kw;
	return push(b, &l);
}

static uint32_t conv(struct gb *b, const char *name, uint32_t in, uint32_t cout, uint32_t k,
		     uint32_t s, uint32_t p)
{
	return conv_hw(b, name, in, cout, k, k, s, p, p, 1, true);
}

static uint32_t pool(struct gb *b, const char *name, enum infer_op op, uint32_t in, uint32_t k,
		     uint32_t s, uint32_t p, bool ceil_mode)
{
	struct infer_layer l = {.op = op,
				.in = {in},
				.n_in = 1,
				.kh = k,
				.kw = k,
				.sh = s,
				.sw = s,
				.ph = p,
				.pw = p,
				.ceil_mode = ceil_mode};
	struct infer_shape i;
	if (b->err)
		return 0;
	i = shape_of(b, in);
	snprintf(l.name, sizeof(l.name), "%s", name);
	l.out = (struct infer_shape){i.c, pool_dim(i.h, k, s, p, ceil_mode, &b->err),
				     pool_dim(i.w, k, s, p, ceil_mode, &b->err)};
	l.flops = (double)l.out.c * l.out.h * l.out.w * k * k;
	return push(b, &l);
}

static uint32_t gap(struct gb *b, const char *name, uint32_t in)
{
	struct infer_layer l = {.op = INFER_GAP, .in = {in}, .n_in = 1};
	struct infer_shape i;
	if (b->err)
		return 0;
	i = shape_of(b, in);
	snprintf(l.name, sizeof(l.name), "%s", name);
	l.out = (struct infer_shape){i.c, 1, 1};
	l.flops = (double)i.c * i.h * i.w;
	return push(b, &l);
}

static uint32_t fc(struct gb *b, const char *name, uint32_t in, uint32_t out, bool relu)
{
	struct infer_layer l = {.op = INFER_FC, .in = {in}, .n_in = 1, .cout = out, .relu = relu};
	struct infer_shape i;
	if (b->err)
		return 0;
	i = shape_of(b, in);
	snprintf(l.name, sizeof(l.name), "%s", name);
	l.out = (struct infer_shape){out, 1, 1};
	l.n_weight = (size_t)out * i.c * i.h * i.w;
	l.flops = 2.0 * (double)l.n_weight;
	return push(b, &l);
}

static uint32_t add2(struct gb *b, const char *name, uint32_t x, uint32_t y, bool relu)
{
	struct infer_layer l = {.op = INFER_ADD, .in = {x, y}, .n_in = 2, .relu = relu};
	if (b->err)
		return 0;
	snprintf(l.name, sizeof(l.name), "%s", name);
	l.out = shape_of(b, x);
	{
		struct infer_shape o = shape_of(b, y);
		if (o.c != l.out.c || o.h != l.out.h || o.w != l.out.w) {
			b->err = -EINVAL;
			return 0;
		}
	}
	l.flops = (double)l.out.c * l.out.h * l.out.w;
	return push(b, &l);
}

static uint32_t concat(struct gb *b, const char *name, const uint32_t *in, uint32_t n)
{
	struct infer_layer l = {.op = INFER_CONCAT, .n_in = n};
	if (b->err)
		return 0;
	snprintf(l.name, sizeof(l.name), "%s", name);
	l.out = shape_of(b, in[0]);
	l.out.c = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct infer_shape s = shape_of(b, in[i]);
		if (s.h != l.out.h || s.w != l.out.w) {
			b->err = -EINVAL;
			return 0;
		}
		l.in[i] = in[i];
		l.out.c += s.c;
	}
	l.flops = (double)l.out.c * l.out.h * l.out.w;
	return push(b, &l);
}

#define NM(...) (snprintf(nm, sizeof(nm), __VA_ARGS__), nm)

static void build_alexnet(struct gb *b)
{
	uint32_t x = conv(b, "conv1", INFER_INPUT, 64, 11, 4, 2);
	x = pool(b, "pool1", INFER_MAXPOOL, x, 3, 2, 0, false);
	x = conv(b, "conv2", x, 192, 5, 1, 2);
	x = pool(b, "pool2", INFER_MAXPOOL, x, 3, 2, 0, false);
	x = conv(b, "conv3", x, 384, 3, 1, 1);
	x = conv(b, "conv4", x, 256, 3, 1, 1);
	x = conv(b, "conv5", x, 256, 3, 1, 1);
	x = pool(b, "pool5", INFER_MAXPOOL, x, 3, 2, 0, false);
	x = fc(b, "fc6", x, 4096, true);
	x = fc(b, "fc7", x, 4096, true);
	fc(b, "fc8", x, 1000, false);
}

static void build_vgg19(struct gb *b)
{
	static const uint32_t cfg[] = {64,  64,	 0,   128, 128, 0,   256, 256, 256, 256, 0,
				       512, 512, 512, 512, 0,	512, 512, 512, 512, 0};
	char nm[48];
	uint32_t x = INFER_INPUT, ci = 1, pi = 1;
	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++)
		x = cfg[i] ? conv(b, NM("conv%u", ci++), x, cfg[i], 3, 1, 1)
			   : pool(b, NM("pool%u", pi++), INFER_MAXPOOL, x, 2, 2, 0, false);
	x = fc(b, "fc6", x, 4096, true);
	x = fc(b, "fc7", x, 4096, true);
	fc(b, "fc8", x, 1000, false);
}

static void build_mobilenet_v2(struct gb *b)
{
	static const uint32_t cfg[][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2},
					  {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2},
					  {6, 320, 1, 1}};
	char nm[48];
	uint32_t x = conv(b, "conv0", INFER_INPUT, 32, 3, 2, 1);
	unsigned blk = 1;

	for (size_t i = 0; i < 7; i++)
		for (uint32_t r = 0; r < cfg[i][2]; r++, blk++) {
			uint32_t t = cfg[i][0], c = cfg[i][1], s = r ? 1 : cfg[i][3];
			uint32_t cin = b->err ? 1 : shape_of(b, x).c, y = x;
			if (t != 1)
				y = conv(b, NM("b%u.expand", blk), y, cin * t, 1, 1, 0);
			y = conv_hw(b, NM("b%u.dw", blk), y, cin * t, 3, 3, s, 1, 1, cin * t, true);
			y = conv_hw(b, NM("b%u.project", blk), y, c, 1, 1, 1, 0, 0, 1, false);
			if (s == 1 && cin == c)
				y = add2(b, NM("b%u.add", blk), x, y, false);
			x = y;
		}
	x = conv(b, "conv_last", x, 1280, 1, 1, 0);
	x = gap(b, "avgpool", x);
	fc(b, "fc", x, 1000, false);
}

static void build_resnet18(struct gb *b)
{
	static const uint32_t widths[4] = {64, 128, 256, 512};
	char nm[48];
	uint32_t x = conv(b, "conv1", INFER_INPUT, 64, 7, 2, 3);

	x = pool(b, "maxpool", INFER_MAXPOOL, x, 3, 2, 1, false);
	for (unsigned st = 0; st < 4; st++)
		for (unsigned blk = 0; blk < 2; blk++) {
			uint32_t s = (st > 0 && blk == 0) ? 2 : 1, c = widths[st], y, sc = x;
			uint32_t cin = b->err ? c : shape_of(b, x).c;
			y = conv(b, NM("layer%u.%u.conv1", st + 1, blk), x, c, 3, s, 1);
			y = conv_hw(b, NM("layer%u.%u.conv2", st + 1, blk), y, c, 3, 3, 1, 1, 1, 1,
				    false);
			if (s != 1 || cin != c)
				sc = conv_hw(b, NM("layer%u.%u.downsample", st + 1, blk), x, c, 1,
					     1, s, 0, 0, 1, false);
			x = add2(b, NM("layer%u.%u.add", st + 1, blk), sc, y, true);
		}
	x = gap(b, "avgpool", x);
	fc(b, "fc", x, 1000, false);
}

static uint32_t g_inception(struct gb *b, const char *n, uint32_t x, uint32_t c1, uint32_t r3,
			    uint32_t c3, uint32_t r5, uint32_t c5, uint32_t pp)
{
	char nm[48];
	uint32_t br[4];
	br[0] = conv(b, NM("%s.b1", n), x, c1, 1, 1, 0);
	br[1] = conv(b, NM("%s.b2r", n), x, r3, 1, 1, 0);
	br[1] = conv(b, NM("%s.b2", n), br[1], c3, 3, 1, 1);
	br[2] = conv(b, NM("%s.b3r", n), x, r5, 1, 1, 0);
	br[2] = conv(b, NM("%s.b3", n), br[2], c5, 3, 1, 1);
	br[3] = pool(b, NM("%s.b4p", n), INFER_MAXPOOL, x, 3, 1, 1, true);
	br[3] = conv(b, NM("%s.b4", n), br[3], pp, 1, 1, 0);
	return concat(b, NM("%s.concat", n), br, 4);
}

static void build_googlenet(struct gb *b)
{
	uint32_t x = conv(b, "conv1", INFER_INPUT, 64, 7, 2, 3);
	x = pool(b, "pool1", INFER_MAXPOOL, x, 3, 2, 0, true);
	x = conv(b, "conv2", x, 64, 1, 1, 0);
	x = conv(b, "conv3", x, 192, 3, 1, 1);
	x = pool(b, "pool2", INFER_MAXPOOL, x, 3, 2, 0, true);
	x = g_inception(b, "3a", x, 64, 96, 128, 16, 32, 32);
	x = g_inception(b, "3b", x, 128, 128, 192, 32, 96, 64);
	x = pool(b, "pool3", INFER_MAXPOOL, x, 3, 2, 0, true);
	x = g_inception(b, "4a", x, 192, 96, 208, 16, 48, 64);
	x = g_inception(b, "4b", x, 160, 112, 224, 24, 64, 64);
	x = g_inception(b, "4c", x, 128, 128, 256, 24, 64, 64);
	x = g_inception(b, "4d", x, 112, 144, 288, 32, 64, 64);
	x = g_inception(b, "4e", x, 256, 160, 320, 32, 128, 128);
	x = pool(b, "pool4", INFER_MAXPOOL, x, 2, 2, 0, true);
	x = g_inception(b, "5a", x, 256, 160, 320, 32, 128, 128);
	x = g_inception(b, "5b", x, 384, 192, 384, 48, 128, 128);
	x = gap(b, "avgpool", x);
	fc(b, "fc", x, 1000, false);
}

/* Inception-v3 modules (torchvision names). */
static uint32_t inc_a(struct gb *b, const char *n, uint32_t x, uint32_t pf)
{
	char nm[48];
	uint32_t br[4];
	br[0] = conv(b, NM("%s.b1x1", n), x, 64, 1, 1, 0);
	br[1] = conv(b, NM("%s.b5x5_1", n), x, 48, 1, 1, 0);
	br[1] = conv(b, NM("%s.b5x5_2", n), br[1], 64, 5, 1, 2);
	br[2] = conv(b, NM("%s.b3x3dbl_1", n), x, 64, 1, 1, 0);
	br[2] = conv(b, NM("%s.b3x3dbl_2", n), br[2], 96, 3, 1, 1);
	br[2] = conv(b, NM("%s.b3x3dbl_3", n), br[2], 96, 3, 1, 1);
	br[3] = pool(b, NM("%s.bpool_avg", n), INFER_AVGPOOL, x, 3, 1, 1, false);
	br[3] = conv(b, NM("%s.bpool", n), br[3], pf, 1, 1, 0);
	return concat(b, NM("%s.concat", n), br, 4);
}

static uint32_t inc_b(struct gb *b, const char *n, uint32_t x)
{
	char nm[48];
	uint32_t br[3];
	br[0] = conv(b, NM("%s.b3x3", n), x, 384, 3, 2, 0);
	br[1] = conv(b, NM("%s.b3x3dbl_1", n), x, 64, 1, 1, 0);
	br[1] = conv(b, NM("%s.b3x3dbl_2", n), br[1], 96, 3, 1, 1);
	br[1] = conv(b, NM("%s.b3x3dbl_3", n), br[1], 96, 3, 2, 0);
	br[2] = pool(b, NM("%s.bpool", n), INFER_MAXPOOL, x, 3, 2, 0, false);
	return concat(b, NM("%s.concat", n), br, 3);
}

static uint32_t inc_c(struct gb *b, const char *n, uint32_t x, uint32_t c7)
{
	char nm[48];
	uint32_t br[4];
	br[0] = conv(b, NM("%s.b1x1", n), x, 192, 1, 1, 0);
	br[1] = conv(b, NM("%s.b7x7_1", n), x, c7, 1, 1, 0);
	br[1] = conv_hw(b, NM("%s.b7x7_2", n), br[1], c7, 1, 7, 1, 0, 3, 1, true);
	br[1] = conv_hw(b, NM("%s.b7x7_3", n), br[1], 192, 7, 1, 1, 3, 0, 1, true);
	br[2] = conv(b, NM("%s.b7x7dbl_1", n), x, c7, 1, 1, 0);
	br[2] = conv_hw(b, NM("%s.b7x7dbl_2", n), br[2], c7, 7, 1, 1, 3, 0, 1, true);
	br[2] = conv_hw(b, NM("%s.b7x7dbl_3", n), br[2], c7, 1, 7, 1, 0, 3, 1, true);
	br[2] = conv_hw(b, NM("%s.b7x7dbl_4", n), br[2], c7, 7, 1, 1, 3, 0, 1, true);
	br[2] = conv_hw(b, NM("%s.b7x7dbl_5", n), br[2], 192, 1, 7, 1, 0, 3, 1, true);
	br[3] = pool(b, NM("%s.bpool_avg", n), INFER_AVGPOOL, x, 3, 1, 1, false);
	br[3] = conv(b, NM("%s.bpool", n), br[3], 192, 1, 1, 0);
	return concat(b, NM("%s.concat", n), br, 4);
}

static uint32_t inc_d(struct gb *b, const char *n, uint32_t x)
{
	char nm[48];
	uint32_t br[3];
	br[0] = conv(b, NM("%s.b3x3_1", n), x, 192, 1, 1, 0);
	br[0] = conv(b, NM("%s.b3x3_2", n), br[0], 320, 3, 2, 0);
	br[1] = conv(b, NM("%s.b7x7x3_1", n), x, 192, 1, 1, 0);
	br[1] = conv_hw(b, NM("%s.b7x7x3_2", n), br[1], 192, 1, 7, 1, 0, 3, 1, true);
	br[1] = conv_hw(b, NM("%s.b7x7x3_3", n), br[1], 192, 7, 1, 1, 3, 0, 1, true);
	br[1] = conv(b, NM("%s.b7x7x3_4", n), br[1], 192, 3, 2, 0);
	br[2] = pool(b, NM("%s.bpool", n), INFER_MAXPOOL, x, 3, 2, 0, false);
	return concat(b, NM("%s.concat", n), br, 3);
}

static uint32_t inc_e(struct gb *b, const char *n, uint32_t x)
{
	char nm[48];
	uint32_t br[6], t;
	br[0] = conv(b, NM("%s.b1x1", n), x, 320, 1, 1, 0);
	t = conv(b, NM("%s.b3x3_1", n), x, 384, 1, 1, 0);
	br[1] = conv_hw(b, NM("%s.b3x3_2a", n), t, 384, 1, 3, 1, 0, 1, 1, true);
	br[2] = conv_hw(b, NM("%s.b3x3_2b", n), t, 384, 3, 1, 1, 1, 0, 1, true);
	t = conv(b, NM("%s.b3x3dbl_1", n), x, 448, 1, 1, 0);
	t = conv(b, NM("%s.b3x3dbl_2", n), t, 384, 3, 1, 1);
	br[3] = conv_hw(b, NM("%s.b3x3dbl_3a", n), t, 384, 1, 3, 1, 0, 1, 1, true);
	br[4] = conv_hw(b, NM("%s.b3x3dbl_3b", n), t, 384, 3, 1, 1, 1, 0, 1, true);
	t = pool(b, NM("%s.bpool_avg", n), INFER_AVGPOOL, x, 3, 1, 1, false);
	br[5] = conv(b, NM("%s.bpool", n), t, 192, 1, 1, 0);
	/* torchvision concatenates the 3x3 pairs inside the branch; one concat of all six
	 * tensors in the same channel order gives the same output. */
	return concat(b, NM("%s.concat", n), br, 6);
}

static void build_inception_v3(struct gb *b)
{
	uint32_t x = conv(b, "Conv2d_1a_3x3", INFER_INPUT, 32, 3, 2, 0);
	x = conv(b, "Conv2d_2a_3x3", x, 32, 3, 1, 0);
	x = conv(b, "Conv2d_2b_3x3", x, 64, 3, 1, 1);
	x = pool(b, "maxpool1", INFER_MAXPOOL, x, 3, 2, 0, false);
	x = conv(b, "Conv2d_3b_1x1", x, 80, 1, 1, 0);
	x = conv(b, "Conv2d_4a_3x3", x, 192, 3, 1, 0);
	x = pool(b, "maxpool2", INFER_MAXPOOL, x, 3, 2, 0, false);
	x = inc_a(b, "Mixed_5b", x, 32);
	x = inc_a(b, "Mixed_5c", x, 64);
	x = inc_a(b, "Mixed_5d", x, 64);
	x = inc_b(b, "Mixed_6a", x);
	x = inc_c(b, "Mixed_6b", x, 128);
	x = inc_c(b, "Mixed_6c", x, 160);
	x = inc_c(b, "Mixed_6d", x, 160);
	x = inc_c(b, "Mixed_6e", x, 192);
	x = inc_d(b, "Mixed_7a", x);
	x = inc_e(b, "Mixed_7b", x);
	x = inc_e(b, "Mixed_7c", x);
	x = gap(b, "avgpool", x);
	fc(b, "fc", x, 1000, false);
}

static const struct {
	const char *name;
	uint32_t default_size;
	void (*build)(struct gb *b);
} models[] = {
    {"alexnet", 224, build_alexnet},	       {"mobilenet-v2", 224, build_mobilenet_v2},
    {"resnet-18", 224, build_resnet18},	       {"vgg-19", 224, build_vgg19},
    {"inception-v3", 299, build_inception_v3}, {"googlenet", 224, build_googlenet},
};

const char *const *infer_model_names(void)
{
	static const char *const names[] = {"alexnet",	    "mobilenet-v2", "resnet-18", "vgg-19",
					    "inception-v3", "googlenet",    NULL};
	return names;
}

int infer_model_new(const char *name, uint32_t input_size, uint32_t batch, struct infer_model **ret)
{
	if (!name || !ret || batch == 0 || batch > 1024 || input_size > 4096)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		struct gb b = {0};
		if (strcmp(models[i].name, name) != 0)
			continue;
		b.m = calloc(1, sizeof(*b.m));
		if (!b.m)
			return -ENOMEM;
		snprintf(b.m->name, sizeof(b.m->name), "%s", name);
		b.m->in = (struct infer_shape){3, input_size ? input_size : models[i].default_size,
					       input_size ? input_size : models[i].default_size};
		b.m->batch = batch;
		models[i].build(&b);
		/* a layer whose output vanished is an input too small for the model */
		for (size_t l = 0; !b.err && l < b.m->n; l++)
			if (!b.m->layers[l].out.h || !b.m->layers[l].out.w)
				b.err = -EINVAL;
		if (b.err) {
			infer_model_free(b.m);
			return b.err;
		}
		*ret = b.m;
		return 0;
	}
	return -ENOENT;
}

void infer_model_free(struct infer_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->layers[i].weight);
		free(m->layers[i].bias);
		free(m->layers[i].act);
	}
	free(m->layers);
	free(m->input);
	free(m->scratch);
	free(m);
}

int infer_find_layer(const struct infer_model *m, const char *name, uint32_t *ret)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->layers[i].name, name) == 0) {
			*ret = (uint32_t)i;
			return 0;
		}
	return -ENOENT;
}

size_t infer_elems(struct infer_shape s)
{
	return (size_t)s.c * s.h * s.w;
}

uint64_t infer_output_bytes(const struct infer_model *m, uint32_t layer)
{
	return layer == INFER_INPUT ? infer_elems(m->in) * 4
				    : infer_elems(m->layers[layer].out) * 4;
}

size_t infer_weight_bytes(const struct infer_model *m)
{
	size_t t = 0;
	for (size_t i = 0; i < m->n; i++)
		t += (m->layers[i].n_weight +
		      (m->layers[i].op == INFER_CONV || m->layers[i].op == INFER_FC
			   ? m->layers[i].cout
			   : 0)) *
		     sizeof(float);
	return t;
}

size_t infer_activation_bytes(const struct infer_model *m)
{
	size_t t = infer_elems(m->in);
	for (size_t i = 0; i < m->n; i++)
		t += infer_elems(m->layers[i].out);
	return t * m->batch * sizeof(float);
}

/* xorshift64* -> uniform float in [-1, 1) */
static inline float frand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (float)((double)((*s * 2685821657736338717ull) >> 40) / (double)(1ull << 23) - 1.0);
}

int infer_model_alloc(struct infer_model *m, uint64_t seed)
{
	uint64_t s = seed ? seed : 0x853c49e6748fea9bull;

	if (!m)
		return -EINVAL;
	if (m->allocated)
		return 0;
	m->input = malloc(infer_elems(m->in) * m->batch * sizeof(float));
	if (!m->input)
		return -ENOMEM;
	m->scratch_len = 1;
	for (size_t i = 0; i < m->n; i++) {
		struct infer_layer *l = &m->layers[i];
		struct infer_shape in = l->in[0] == INFER_INPUT ? m->in : m->layers[l->in[0]].out;
		l->act = malloc(infer_elems(l->out) * m->batch * sizeof(float));
		if (!l->act)
			return -ENOMEM;
		if (l->n_weight) {
			size_t fan_in = l->n_weight / l->cout;
			/* He-uniform keeps activations in range through ReLU stacks without BN */
			float scale = sqrtf(6.0f / (float)fan_in);
			l->weight = malloc(l->n_weight * sizeof(float));
			l->bias = calloc(l->cout, sizeof(float));
			if (!l->weight || !l->bias)
				return -ENOMEM;
			for (size_t k = 0; k < l->n_weight; k++)
				l->weight[k] = scale * frand(&s);
			for (size_t k = 0; k < l->cout; k++)
				l->bias[k] = 0.01f * frand(&s);
		}
		if (l->op == INFER_CONV && l->groups != in.c) {
			bool direct = l->kh == 1 && l->kw == 1 && l->sh == 1 && l->sw == 1 &&
				      !l->ph && !l->pw;
			size_t need =
			    (size_t)(in.c / l->groups) * l->kh * l->kw * l->out.h * l->out.w;
			if (!direct && need > m->scratch_len)
				m->scratch_len = need;
		}
	}
	m->scratch = malloc(m->scratch_len * sizeof(float));
	if (!m->scratch)
		return -ENOMEM;
	m->allocated = true;
	infer_fill_input(m, seed + 1);
	return 0;
}

void infer_fill_input(struct infer_model *m, uint64_t seed)
{
	uint64_t s = seed | 1;
	size_t n = infer_elems(m->in) * m->batch;
	for (size_t i = 0; i < n; i++)
		m->input[i] = frand(&s);
}

void infer_mark_ancestors(const struct infer_model *m, uint32_t v, bool *local)
{
	if (v == INFER_INPUT || local[v])
		return;
	local[v] = true;
	for (uint32_t k = 0; k < m->layers[v].n_in; k++)
		infer_mark_ancestors(m, m->layers[v].in[k], local);
}

size_t infer_frontier(const struct infer_model *m, const bool *local, uint32_t *ret)
{
	size_t n = 0;
	bool input = false;
	for (size_t v = 0; v < m->n; v++) {
		bool read = false;
		if (!local[v])
			continue;
		for (size_t w = 0; w < m->n && !read; w++)
			if (!local[w])
				for (uint32_t k = 0; k < m->layers[w].n_in; k++)
					read |= m->layers[w].in[k] == v;
		if (read)
			ret[n++] = (uint32_t)v;
	}
	for (size_t w = 0; w < m->n && !input; w++)
		if (!local[w])
			for (uint32_t k = 0; k < m->layers[w].n_in; k++)
				input |= m->layers[w].in[k] == INFER_INPUT;
	if (input)
		ret[n++] = INFER_INPUT;
	return n;
}

int infer_to_jps(const struct infer_model *m, const double *ms, const char *source,
		 struct jps_model **ret)
{
	struct jps_model *jm;
	int r = jps_model_new(m->name, source, infer_output_bytes(m, INFER_INPUT), &jm);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->n; i++) {
		const struct infer_layer *l = &m->layers[i];
		uint32_t in[INFER_MAX_IN];
		for (uint32_t k = 0; k < l->n_in; k++)
			in[k] = l->in[k] == INFER_INPUT ? JPS_INPUT : l->in[k];
		r = jps_model_add_layer(jm, l->name, ms ? ms[i] : l->flops / (JPS_EST_GFLOPS * 1e6),
					infer_output_bytes(m, (uint32_t)i), in, l->n_in, NULL);
		if (r < 0) {
			jps_model_free(jm);
			return r;
		}
	}
	*ret = jm;
	return 0;
}

uint32_t infer_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	static bool ready;
	const uint8_t *p = buf;

	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
			table[i] = c;
		}
		__atomic_store_n(&ready, true, __ATOMIC_RELEASE);
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
