/* V4L2 capture backend. */
#define AG_LOG_TAG "camera"
#include "source_impl.h"

static int v4l2_open(struct drv_source *src)
{
	ag_log_err("%s: V4L2 capture is not in this build yet: use \"testpattern\" or \"files:DIR\"",
		   src->cfg.device);
	return AG_EUNSUPPORTED;
}

static void v4l2_close(struct drv_source *src)
{
	(void)src;
}

static int v4l2_grab(struct drv_source *src, struct drv_frame *f, uint64_t timeout_ms)
{
	(void)src;
	(void)f;
	(void)timeout_ms;
	return AG_EUNSUPPORTED;
}

const struct drv_backend drv_backend_v4l2 = {
	.name = "v4l2",
	.open = v4l2_open,
	.close = v4l2_close,
	.grab = v4l2_grab,
};
