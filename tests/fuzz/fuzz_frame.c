/* fuzz_frame.c — libFuzzer target for the offload frame decoder (infer_frame_check): any
 * byte string is either rejected with -EBADMSG or is a consistent frame. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct infer_frame_header h;
	int r = infer_frame_check(data, size, &h);

	if (r == 0) {
		/* accepted: the announced sizes must add up to exactly what we were given */
		size_t want =
		    sizeof(h) + h.n_tensors * sizeof(struct infer_tensor_desc) + h.msg_len + 4;
		for (uint32_t i = 0; i < h.n_tensors; i++) {
			struct infer_tensor_desc d;
			memcpy(&d, data + sizeof(h) + i * sizeof(d), sizeof(d));
			want += (size_t)d.batch * d.c * d.h * d.w * 4;
		}
		if (want != size || h.magic != INFER_FRAME_MAGIC)
			abort();
	} else if (r != -EBADMSG) {
		abort();
	}
	return 0;
}
