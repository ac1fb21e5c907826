/* infer_frame.c — tensor frames over TCP: encoding with CRC-32C, validation of a received
 * header and body, whole reads and writes. */
#include "infer_net_internal.h"

void infer_frame_done(struct infer_frame *f)
{
	if (!f)
		return;
	free(f->buf);
	*f = (struct infer_frame){0};
}

size_t infer_tensor_elems(const struct infer_tensor_desc *d)
{
	return (size_t)d->batch * d->c * d->h * d->w;
}

struct infer_shape infer_shape_of_layer(const struct infer_model *m, int32_t layer)
{
	return layer < 0 ? m->in : m->layers[layer].out;
}

float *infer_data_of_layer(struct infer_model *m, int32_t layer)
{
	return layer < 0 ? m->input : m->layers[layer].act;
}

/* Frame = header | descs | payloads | msg | crc. */
int infer_frame_build(const struct infer_frame_header *h, const struct infer_tensor_desc *d,
		      const float *const *data, const char *msg, struct infer_frame *ret)
{
	size_t len = sizeof(*h) + h->n_tensors * sizeof(*d) + h->msg_len + 4, off;
	uint8_t *buf;

	for (uint32_t i = 0; i < h->n_tensors; i++)
		len += infer_tensor_elems(&d[i]) * sizeof(float);
	if (len > INFER_FRAME_MAX_BYTES)
		return -E2BIG;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, h, sizeof(*h));
	off = sizeof(*h);
	if (h->n_tensors)
		memcpy(buf + off, d, h->n_tensors * sizeof(*d));
	off += h->n_tensors * sizeof(*d);
	for (uint32_t i = 0; i < h->n_tensors; i++) {
		size_t b = infer_tensor_elems(&d[i]) * sizeof(float);
		memcpy(buf + off, data[i], b);
		off += b;
	}
	if (h->msg_len)
		memcpy(buf + off, msg, h->msg_len);
	off += h->msg_len;
	uint32_t crc = infer_crc32c(0, buf, off);
	memcpy(buf + off, &crc, 4);
	*ret = (struct infer_frame){buf, len, crc};
	return 0;
}

int infer_frame_request(const struct infer_model *m, uint32_t job, int32_t cut,
			struct infer_frame *ret)
{
	struct infer_frame_header h = {.magic = INFER_FRAME_MAGIC,
				       .version = INFER_FRAME_VERSION,
				       .type = INFER_FRAME_REQUEST,
				       .job = job,
				       .cut = cut < 0 ? -1 : cut,
				       .input_size = m->in.h,
				       .batch = m->batch};
	struct infer_tensor_desc d[INFER_FRAME_MAX_TENSORS];
	const float *data[INFER_FRAME_MAX_TENSORS];
	uint32_t fr[INFER_FRAME_MAX_TENSORS * 8];
	size_t nf;
	bool *local;
	int r;

	if (!m || !ret || (cut >= 0 && (size_t)cut >= m->n))
		return -EINVAL;
	local = calloc(m->n, sizeof(bool));
	if (!local)
		return -ENOMEM;
	if (cut >= 0)
		infer_mark_ancestors(m, (uint32_t)cut, local);
	/* the frontier can exceed the frame's tensor limit only in exotic graphs */
	if (m->n > INFER_FRAME_MAX_TENSORS * 8) {
		uint32_t *big = calloc(m->n + 1, sizeof(uint32_t));
		if (!big) {
			free(local);
			return -ENOMEM;
		}
		nf = infer_frontier(m, local, big);
		if (nf > INFER_FRAME_MAX_TENSORS) {
			free(big);
			free(local);
			return -E2BIG;
		}
		memcpy(fr, big, nf * sizeof(uint32_t));
		free(big);
	} else {
		nf = infer_frontier(m, local, fr);
	}
	free(local);
	if (nf > INFER_FRAME_MAX_TENSORS)
		return -E2BIG;
	memcpy(h.model, m->name, strnlen(m->name, sizeof(h.model) - 1));
	h.n_tensors = (uint32_t)nf;
	for (size_t i = 0; i < nf; i++) {
		int32_t layer = fr[i] == INFER_INPUT ? -1 : (int32_t)fr[i];
		struct infer_shape s = infer_shape_of_layer(m, layer);
		d[i] = (struct infer_tensor_desc){layer, m->batch, s.c, s.h, s.w, 0};
		data[i] = layer < 0 ? m->input : m->layers[layer].act;
	}
	r = infer_frame_build(&h, d, data, NULL, ret);
	return r;
}

/* Total length a frame announces, from its header and descriptors; -EBADMSG if absurd. */
static int frame_expected_len(const struct infer_frame_header *h, const struct infer_tensor_desc *d,
			      size_t *ret)
{
	size_t len = sizeof(*h) + (size_t)h->n_tensors * sizeof(*d) + h->msg_len + 4;
	for (uint32_t i = 0; i < h->n_tensors; i++) {
		unsigned __int128 e = (unsigned __int128)d[i].batch * d[i].c * d[i].h * d[i].w * 4;
		if (e > INFER_FRAME_MAX_BYTES)
			return -EBADMSG;
		len += (size_t)e;
		if (len > INFER_FRAME_MAX_BYTES)
			return -EBADMSG;
	}
	*ret = len;
	return 0;
}

static int header_ok(const struct infer_frame_header *h)
{
	if (h->magic != INFER_FRAME_MAGIC || h->version != INFER_FRAME_VERSION)
		return -EBADMSG;
	if (h->type < INFER_FRAME_REQUEST || h->type > INFER_FRAME_ERROR)
		return -EBADMSG;
	if (h->n_tensors > INFER_FRAME_MAX_TENSORS || h->msg_len > 4096)
		return -EBADMSG;
	return 0;
}

int infer_frame_check(const uint8_t *buf, size_t len, struct infer_frame_header *ret_hdr)
{
	struct infer_frame_header h;
	size_t want;
	uint32_t crc;
	int r;

	if (!buf || len < sizeof(h) + 4)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	r = header_ok(&h);
	if (r < 0)
		return r;
	if (len < sizeof(h) + (size_t)h.n_tensors * sizeof(struct infer_tensor_desc) + 4)
		return -EBADMSG;
	{
		struct infer_tensor_desc d[INFER_FRAME_MAX_TENSORS];
		memcpy(d, buf + sizeof(h), h.n_tensors * sizeof(*d));
		r = frame_expected_len(&h, d, &want);
		if (r < 0)
			return r;
	}
	if (want != len)
		return -EBADMSG;
	memcpy(&crc, buf + len - 4, 4);
	if (crc != infer_crc32c(0, buf, len - 4))
		return -EBADMSG;
	if (ret_hdr)
		*ret_hdr = h;
	return 0;
}

int infer_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int infer_frame_read(int fd, uint8_t **ret_buf, size_t *ret_len)
{
	struct infer_frame_header h;
	struct infer_tensor_desc d[INFER_FRAME_MAX_TENSORS];
	_cleanup_free_ uint8_t *buf = NULL;
	size_t want;
	int r;

	r = read_all(fd, &h, sizeof(h));
	if (r < 0)
		return r;
	r = header_ok(&h);
	if (r < 0)
		return r;
	r = read_all(fd, d, h.n_tensors * sizeof(*d));
	if (r < 0)
		return r;
	r = frame_expected_len(&h, d, &want);
	if (r < 0)
		return r;
	buf = malloc(want);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), d, h.n_tensors * sizeof(*d));
	r = read_all(fd, buf + sizeof(h) + h.n_tensors * sizeof(*d),
		     want - sizeof(h) - h.n_tensors * sizeof(*d));
	if (r < 0)
		return r;
	r = infer_frame_check(buf, want, NULL);
	if (r < 0)
		return r;
	*ret_buf = TAKE_PTR(buf);
	*ret_len = want;
	return 0;
}
