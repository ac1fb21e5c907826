/* test_infer.c — the reference workload: layer shapes against the architectures, conv
 * numerics, profile round trip through the planner, frames, and the offload pipeline
 * (order, data integrity, server death and silence end in errors, not hangs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "infer.h"
#include "infer_net.h"
#include "jps_profile.h"

static uint64_t out_of(const struct infer_model *m, const char *name)
{
	uint32_t i;
	if (infer_find_layer(m, name, &i) < 0)
		fail_msg("no layer %s in %s", name, m->name);
	return infer_output_bytes(m, i);
}

static double gmacs(const struct infer_model *m)
{
	double f = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->layers[i].op == INFER_CONV || m->layers[i].op == INFER_FC)
			f += m->layers[i].flops / 2;
	return f / 1e9;
}

/* The planner's built-in profiles and the executable graphs agree layer by layer. */
static void test_shapes_match_planner(void **state)
{
	static const char *names[] = {"alexnet", "mobilenet-v2", "googlenet", "resnet-18"};
	for (int k = 0; k < 4; k++) {
		struct infer_model *m;
		struct jps_model *jm;
		assert_int_equal(infer_model_new(names[k], 0, 1, &m), 0);
		assert_int_equal(jps_builtin_model(names[k], 0, &jm), 0);
		assert_int_equal(m->n, jm->n_layers);
		assert_int_equal(infer_output_bytes(m, INFER_INPUT), jm->input_bytes);
		for (size_t i = 0; i < m->n; i++) {
			assert_string_equal(m->layers[i].name, jm->layers[i].name);
			assert_int_equal(infer_output_bytes(m, (uint32_t)i),
					 jm->layers[i].out_bytes);
			assert_int_equal(m->layers[i].n_in, jm->layers[i].n_inputs);
			for (uint32_t e = 0; e < m->layers[i].n_in; e++)
				assert_int_equal(m->layers[i].in[e] == INFER_INPUT
						     ? JPS_INPUT
						     : m->layers[i].in[e],
						 jm->layers[i].inputs[e]);
		}
		jps_model_free(jm);
		infer_model_free(m);
	}
}

static void test_shapes_vgg_inception(void **state)
{
	struct infer_model *m;

	assert_int_equal(infer_model_new("vgg-19", 0, 1, &m), 0);
	assert_int_equal(m->n, 16 + 5 + 3);
	assert_int_equal(out_of(m, "conv2"), 64 * 224 * 224 * 4);
	assert_int_equal(out_of(m, "pool5"), 512 * 7 * 7 * 4);
	assert_int_equal(out_of(m, "fc8"), 4000);
	assert_true(fabs(gmacs(m) - 19.63) < 0.05); /* torchvision: 19.63 GMAC */
	assert_true(fabs(infer_weight_bytes(m) / 4e6 - 143.67) < 0.05); /* 143.67 M params */
	infer_model_free(m);

	assert_int_equal(infer_model_new("inception-v3", 0, 1, &m), 0);
	assert_int_equal(m->in.h, 299);
	assert_int_equal(out_of(m, "Conv2d_1a_3x3"), 32 * 149 * 149 * 4);
	assert_int_equal(out_of(m, "maxpool2"), 192 * 35 * 35 * 4);
	assert_int_equal(out_of(m, "Mixed_5b.concat"), 256 * 35 * 35 * 4);
	assert_int_equal(out_of(m, "Mixed_5d.concat"), 288 * 35 * 35 * 4);
	assert_int_equal(out_of(m, "Mixed_6a.concat"), 768 * 17 * 17 * 4);
	assert_int_equal(out_of(m, "Mixed_6e.concat"), 768 * 17 * 17 * 4);
	assert_int_equal(out_of(m, "Mixed_7a.concat"), 1280 * 8 * 8 * 4);
	assert_int_equal(out_of(m, "Mixed_7c.concat"), 2048 * 8 * 8 * 4);
	assert_true(fabs(gmacs(m) - 5.71) < 0.05); /* torchvision: 5.71 GMAC */
	infer_model_free(m);

	assert_int_equal(infer_model_new("alexnet", 0, 1, &m), 0);
	assert_true(fabs(gmacs(m) - 0.714) < 0.005);
	assert_true(fabs(infer_weight_bytes(m) / 4e6 - 61.10) < 0.01); /* 61.10 M params */
	infer_model_free(m);
	assert_int_equal(infer_model_new("resnet-18", 0, 1, &m), 0);
	assert_true(fabs(gmacs(m) - 1.81) < 0.02);
	infer_model_free(m);
	assert_int_equal(infer_model_new("mobilenet-v2", 0, 1, &m), 0);
	assert_true(fabs(gmacs(m) - 0.30) < 0.01);
	infer_model_free(m);

	assert_int_equal(infer_model_new("lenet", 0, 1, &m), -ENOENT);
	assert_int_equal(infer_model_new("inception-v3", 40, 1, &m), -EINVAL); /* too small */
}

/* im2col + GEMM equals a naive convolution; partial passes equal the full pass. */
static void test_conv_numerics_and_split(void **state)
{
	struct infer_model *m;
	const struct infer_layer *l;
	float *full;
	size_t nout;
	bool *run;

	assert_int_equal(infer_model_new("resnet-18", 64, 2, &m), 0);
	assert_int_equal(infer_model_alloc(m, 7), 0);
	infer_set_threads(1);
	assert_int_equal(infer_forward(m, NULL, NULL), 0);
	l = &m->layers[0]; /* conv1: 7x7 s2 p3, ReLU */
	for (uint32_t n = 0; n < 2; n++)
		for (uint32_t co = 0; co < l->cout; co += 13)
			for (uint32_t oy = 0; oy < l->out.h; oy += 5)
				for (uint32_t ox = 0; ox < l->out.w; ox += 3) {
					double acc = l->bias[co];
					for (uint32_t ci = 0; ci < 3; ci++)
						for (uint32_t ky = 0; ky < 7; ky++)
							for (uint32_t kx = 0; kx < 7; kx++) {
								int iy = (int)(oy * 2 + ky) - 3,
								    ix = (int)(ox * 2 + kx) - 3;
								if (iy < 0 || ix < 0 || iy >= 64 ||
								    ix >= 64)
									continue;
								acc +=
								    (double)m
									->input[((n * 3 + ci) * 64 +
										 iy) *
										    64 +
										ix] *
								    l->weight[((co * 3 + ci) * 7 +
									       ky) *
										  7 +
									      kx];
							}
					if (acc < 0)
						acc = 0;
					float got =
					    l->act[((n * l->cout + co) * l->out.h + oy) * l->out.w +
						   ox];
					assert_true(fabs(got - acc) < 1e-3 * (1 + fabs(acc)));
				}
	/* the batch's two images differ, so the output does too */
	nout = 1000;
	full = malloc(2 * nout * sizeof(float));
	memcpy(full, m->layers[m->n - 1].act, 2 * nout * sizeof(float));
	assert_true(memcmp(full, full + nout, nout * sizeof(float)) != 0);
	/* the threaded kernels (im2col, depthwise, pooling, bias) compute the same thing */
	infer_set_threads(3);
	assert_int_equal(infer_forward(m, NULL, NULL), 0);
	infer_set_threads(1);
	float scale = 0;
	for (size_t i = 0; i < 2 * nout; i++)
		scale = fmaxf(scale, fabsf(full[i]));
	for (size_t i = 0; i < 2 * nout; i++)
		assert_true(fabs(m->layers[m->n - 1].act[i] - full[i]) <= 1e-5f * (1 + scale));
	/* local part up to layer2.1.add, then the rest: same logits */
	run = calloc(m->n, sizeof(bool));
	uint32_t cut;
	assert_int_equal(infer_find_layer(m, "layer2.1.add", &cut), 0);
	for (size_t i = 0; i < m->n; i++)
		m->layers[i].act[0] = 12345.0f; /* poison */
	infer_mark_ancestors(m, cut, run);
	assert_int_equal(infer_forward(m, run, NULL), 0);
	for (size_t i = 0; i < m->n; i++)
		run[i] = !run[i];
	assert_int_equal(infer_forward(m, run, NULL), 0);
	for (size_t i = 0; i < 2 * nout; i++)
		assert_true(fabs(m->layers[m->n - 1].act[i] - full[i]) <=
			    1e-4f * (1 + fabsf(full[i])));
	free(run);
	free(full);
	infer_model_free(m);
}

/* Depthwise and pooling split over threads give the single-thread result. */
static void test_threads_same_result(void **state)
{
	struct infer_model *m;
	float ref[1000];

	assert_int_equal(infer_model_new("mobilenet-v2", 96, 1, &m), 0);
	assert_int_equal(infer_model_alloc(m, 5), 0);
	infer_set_threads(1);
	assert_int_equal(infer_forward(m, NULL, NULL), 0);
	memcpy(ref, m->layers[m->n - 1].act, sizeof(ref));
	infer_set_threads(4);
	assert_int_equal(infer_forward(m, NULL, NULL), 0);
	infer_set_threads(1);
	/* BLAS threads change the summation order: compare against the output's scale */
	float scale = 0;
	for (size_t i = 0; i < 1000; i++)
		scale = fmaxf(scale, fabsf(ref[i]));
	for (size_t i = 0; i < 1000; i++)
		assert_true(fabsf(m->layers[m->n - 1].act[i] - ref[i]) <= 1e-5f * (1 + scale));
	infer_model_free(m);
}

static void test_profile_round_trip(void **state)
{
	struct infer_model *m;
	struct jps_model *jm, *back;
	struct jps_chain c;
	struct jps_link l;
	struct jps_plan p;
	double *ms;
	char *json, err[256];

	assert_int_equal(infer_model_new("googlenet", 0, 1, &m), 0);
	ms = calloc(m->n, sizeof(double));
	for (size_t i = 0; i < m->n; i++)
		ms[i] = 0.25 + (double)i / 100;
	assert_int_equal(infer_to_jps(m, ms, "measured", &jm), 0);
	assert_int_equal(jps_profile_format(jm, &json), 0);
	assert_int_equal(jps_profile_parse(json, strlen(json), &back, err, sizeof(err)), 0);
	assert_string_equal(back->source, "measured");
	assert_int_equal(back->n_layers, m->n);
	for (size_t i = 0; i < m->n; i++) {
		assert_true(fabs(back->layers[i].compute_ms - ms[i]) < 1e-12);
		assert_int_equal(back->layers[i].out_bytes, infer_output_bytes(m, (uint32_t)i));
	}
	assert_int_equal(jps_link_init(&l, 731250, 1), 0);
	assert_int_equal(jps_chain_from_model(back, &l, &c), 0);
	assert_int_equal(jps_plan_homogeneous(&c, 10, &p), 0);
	assert_true(p.makespan > 0 && p.makespan <= jps_local_only(&c, 10));
	/* every cut the planner picks is a layer edgeslice-infer can cut at */
	for (size_t i = 0; i < 10; i++)
		assert_true(c.cuts[p.order[i]].layer < (int32_t)m->n);
	jps_plan_done(&p);
	jps_chain_done(&c);
	free(json);
	free(ms);
	jps_model_free(jm);
	jps_model_free(back);
	infer_model_free(m);
}

static void test_frames(void **state)
{
	struct infer_model *m;
	struct infer_frame f;
	struct infer_frame_header h;
	uint32_t cut;

	assert_int_equal(infer_model_new("googlenet", 64, 1, &m), 0);
	assert_int_equal(infer_model_alloc(m, 3), 0);
	assert_int_equal(infer_forward(m, NULL, NULL), 0);
	/* inside an Inception module: 3a.b2 and the module input (read by 3 other branches) */
	assert_int_equal(infer_find_layer(m, "3a.b2", &cut), 0);
	assert_int_equal(infer_frame_request(m, 7, (int32_t)cut, &f), 0);
	assert_int_equal(infer_frame_check(f.buf, f.len, &h), 0);
	assert_int_equal(h.job, 7);
	assert_int_equal(h.cut, (int32_t)cut);
	assert_int_equal(h.n_tensors, 2);
	assert_string_equal(h.model, "googlenet");
	{
		uint32_t pool2;
		assert_int_equal(infer_find_layer(m, "pool2", &pool2), 0);
		assert_int_equal(f.len, 64 + 2 * 24 + infer_output_bytes(m, pool2) +
					    infer_output_bytes(m, cut) + 4);
	}
	f.buf[100] ^= 1;
	assert_int_equal(infer_frame_check(f.buf, f.len, NULL), -EBADMSG);
	f.buf[100] ^= 1;
	assert_int_equal(infer_frame_check(f.buf, f.len - 1, NULL), -EBADMSG);
	memcpy(f.buf, "XXXX", 4);
	assert_int_equal(infer_frame_check(f.buf, f.len, NULL), -EBADMSG);
	infer_frame_done(&f);
	/* cloud only: the input alone */
	assert_int_equal(infer_frame_request(m, 1, -1, &f), 0);
	assert_int_equal(infer_frame_check(f.buf, f.len, &h), 0);
	assert_int_equal(h.n_tensors, 1);
	assert_int_equal(f.len, 64 + 24 + 3 * 64 * 64 * 4 + 4);
	infer_frame_done(&f);
	infer_model_free(m);
}

struct srv {
	int fd;
	int mode; /* 0 real server, 1 read one frame then close, 2 read and stay silent */
	int ret;
};

static void *server_thread(void *arg)
{
	struct srv *s = arg;
	if (s->mode == 0) {
		struct infer_model *cache = NULL;
		s->ret = infer_serve_conn(s->fd, &cache, 1, 1);
		infer_model_free(cache);
	} else {
		uint8_t *buf = NULL;
		size_t len;
		s->ret = infer_frame_read(s->fd, &buf, &len);
		free(buf);
		if (s->mode == 2) {
			char c[4096];
			while (read(s->fd, c, sizeof(c)) > 0)
				; /* swallow everything, answer nothing, until the client gives up
				   */
		}
	}
	close(s->fd);
	return NULL;
}

static void start_server(struct srv *s, int mode, int *client_fd)
{
	int sv[2];
	struct timeval tv = {1, 0};
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	s->fd = sv[1];
	s->mode = mode;
	*client_fd = sv[0];
}

static void test_pipeline_order_and_data(void **state)
{
	struct infer_model *m;
	struct srv s;
	pthread_t th;
	int fd;
	uint32_t conv2, pool5, fc6;
	struct infer_job_result res[6];
	double makespan;
	size_t failed;
	char err[256] = "";
	float ref;

	assert_int_equal(infer_model_new("alexnet", 64, 1, &m), 0);
	assert_int_equal(infer_model_alloc(m, 1), 0);
	assert_int_equal(infer_forward(m, NULL, NULL), 0);
	ref = m->layers[m->n - 1].act[0];
	assert_int_equal(infer_find_layer(m, "conv2", &conv2), 0);
	assert_int_equal(infer_find_layer(m, "pool5", &pool5), 0);
	assert_int_equal(infer_find_layer(m, "fc6", &fc6), 0);
	int32_t cuts[6] = {JPS_CUT_CLOUD, (int32_t)conv2, (int32_t)pool5,
			   JPS_CUT_LOCAL, (int32_t)fc6,	  (int32_t)pool5};

	start_server(&s, 0, &fd);
	assert_int_equal(pthread_create(&th, NULL, server_thread, &s), 0);
	assert_int_equal(infer_run_batch(m, fd, cuts, 6, res, &makespan, &failed, err, sizeof(err)),
			 0);
	close(fd);
	pthread_join(th, NULL);
	assert_int_equal(s.ret, 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(res[i].cut, cuts[i]);
		/* the server used the tensor the device sent (CRC echo checked inside) and
		 * finished the same computation: same logits wherever the cut was */
		assert_true(fabsf(res[i].out0 - ref) <= 1e-4f * (1 + fabsf(ref)));
		assert_true(res[i].done_ms <= makespan);
		if (cuts[i] != JPS_CUT_LOCAL) {
			assert_true(res[i].bytes > 0 && res[i].crc != 0);
			/* the upload ended after this job's compute and before its reply */
			assert_true(res[i].upload_ms > 0 && res[i].upload_ms <= res[i].done_ms);
			assert_true(res[i].upload_ms >= res[i].local_ms);
		}
	}
	/* replies come back in processing order */
	assert_true(res[0].done_ms <= res[1].done_ms && res[1].done_ms <= res[2].done_ms &&
		    res[2].done_ms <= res[4].done_ms && res[4].done_ms <= res[5].done_ms);
	assert_int_equal(res[1].bytes, 64 + 24 + infer_output_bytes(m, conv2) + 4);
	infer_model_free(m);
}

static void test_pipeline_failures(void **state)
{
	struct infer_model *m;
	struct srv s;
	pthread_t th;
	int fd;
	struct infer_job_result res[4];
	double makespan;
	size_t failed = 99;
	char err[256] = "";
	int32_t cuts[4] = {3, 3, 3, 3};

	assert_int_equal(infer_model_new("alexnet", 64, 1, &m), 0);
	assert_int_equal(infer_model_alloc(m, 1), 0);

	/* the server dies after receiving the first job */
	start_server(&s, 1, &fd);
	assert_int_equal(pthread_create(&th, NULL, server_thread, &s), 0);
	int r = infer_run_batch(m, fd, cuts, 4, res, &makespan, &failed, err, sizeof(err));
	assert_true(r == -ECONNRESET || r == -EPIPE);
	assert_int_equal(failed, 0);
	assert_non_null(strstr(err, "server closed the connection"));
	close(fd);
	pthread_join(th, NULL);

	/* the link goes silent: the receive timeout ends the batch */
	err[0] = 0;
	start_server(&s, 2, &fd);
	assert_int_equal(pthread_create(&th, NULL, server_thread, &s), 0);
	r = infer_run_batch(m, fd, cuts, 4, res, &makespan, &failed, err, sizeof(err));
	assert_int_equal(r, -ETIMEDOUT);
	assert_int_equal(failed, 0);
	assert_non_null(strstr(err, "timed out"));
	close(fd);
	pthread_join(th, NULL);

	/* the server refuses a request it cannot serve: its message reaches the device */
	err[0] = 0;
	start_server(&s, 0, &fd);
	assert_int_equal(pthread_create(&th, NULL, server_thread, &s), 0);
	{
		struct infer_frame f;
		uint8_t *buf = NULL;
		size_t len;
		struct infer_frame_header h;
		assert_int_equal(infer_forward(m, NULL, NULL), 0);
		assert_int_equal(infer_frame_request(m, 5, 3, &f), 0);
		memcpy(&h, f.buf, sizeof(h));
		h.cut = 9; /* claims a different cut than the tensors it carries */
		memcpy(f.buf, &h, sizeof(h));
		uint32_t crc = infer_crc32c(0, f.buf, f.len - 4);
		memcpy(f.buf + f.len - 4, &crc, 4);
		assert_int_equal(infer_write_all(fd, f.buf, f.len), 0);
		assert_int_equal(infer_frame_read(fd, &buf, &len), 0);
		memcpy(&h, buf, sizeof(h));
		assert_int_equal(h.type, INFER_FRAME_ERROR);
		assert_int_equal(h.job, 5);
		assert_true(h.msg_len > 0);
		free(buf);
		infer_frame_done(&f);
	}
	close(fd);
	pthread_join(th, NULL);
	/* no connection at all for a cut job */
	assert_int_equal(infer_run_batch(m, -1, cuts, 4, res, &makespan, &failed, err, sizeof(err)),
			 -ENOTCONN);
	infer_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shapes_match_planner),
	    cmocka_unit_test(test_shapes_vgg_inception),
	    cmocka_unit_test(test_conv_numerics_and_split),
	    cmocka_unit_test(test_threads_same_result),
	    cmocka_unit_test(test_profile_round_trip),
	    cmocka_unit_test(test_frames),
	    cmocka_unit_test(test_pipeline_order_and_data),
	    cmocka_unit_test(test_pipeline_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
