/* Fuzz the MJPEG check and passthrough (and the re-encode path): any bytes
 * from a camera must give a JPEG that decodes or AG_ECORRUPT. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "ag.h"
#include "drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct drv_encoder *enc;
	if (!enc) {
		struct drv_encoder_config ec;
		drv_encoder_config_defaults(&ec);
		if (drv_encoder_create(&ec, &enc) < 0)
			abort();
		ag_log_set_level(AG_LOG_ERR - 1);
	}
	if (size > (4u << 20))
		return 0;
	struct drv_frame f = { .fmt = DRV_FMT_MJPEG, .width = 16, .height = 16 };
	f.plane[0] = data;
	f.size = size;
	const uint8_t *out;
	size_t len;
	if (drv_encoder_encode(enc, &f, &out, &len) == 0) {
		AG_CHECK(len >= 4 && len <= size);
		AG_CHECK(out[0] == 0xFF && out[1] == 0xD8 && out[len - 2] == 0xFF && out[len - 1] == 0xD9);
		unsigned w, h;
		/* small images only: decoding a huge declared size is slow, not wrong */
		if (drv_jpeg_size(out, len, &w, &h) == 0 && (uint64_t)w * h <= 1u << 20) {
			const uint8_t *re;
			size_t rl;
			(void)drv_encoder_reencode(enc, out, len, 50, 2, &re, &rl);
		}
	}
	return 0;
}
