/* Source dispatch: one interface, a backend per kind of device. */
#define AG_LOG_TAG "camera"
#include <stdlib.h>
#include <string.h>

#include "drv.h"
#include "source_impl.h"

void drv_source_config_defaults(struct drv_source_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->device = "/dev/video0";
	cfg->width = 1280;
	cfg->height = 720;
	cfg->format = DRV_FMT_AUTO;
	cfg->buffers = 4;
}

int drv_source_open(const struct drv_source_config *cfg, struct drv_source **out)
{
	if (!cfg->device || cfg->width < 16 || cfg->height < 16 || cfg->width > 7680 ||
	    cfg->height > 4320 || cfg->width % 2 || cfg->height % 2) {
		ag_log_err("%s: bad size %ux%u (even, 16x16 to 7680x4320)",
			   cfg->device ? cfg->device : "(none)", cfg->width, cfg->height);
		return AG_EINVAL;
	}
	const struct drv_backend *be;
	if (strcmp(cfg->device, "testpattern") == 0)
		be = &drv_backend_testpattern;
	else if (strncmp(cfg->device, "files:", 6) == 0)
		be = &drv_backend_files;
	else if (cfg->device[0] == '/')
		be = &drv_backend_v4l2;
	else {
		ag_log_err("%s: not a device path, \"testpattern\" or \"files:DIR\"", cfg->device);
		return AG_EINVAL;
	}
	struct drv_source *src = calloc(1, sizeof(*src));
	if (!src)
		return AG_ENOMEM;
	src->be = be;
	src->cfg = *cfg;
	src->device = strdup(cfg->device);
	if (!src->device) {
		free(src);
		return AG_ENOMEM;
	}
	src->cfg.device = src->device;
	int rc = be->open(src);
	if (rc < 0) {
		free(src->device);
		free(src);
		return rc;
	}
	*out = src;
	return 0;
}

void drv_source_close(struct drv_source *src)
{
	if (!src)
		return;
	src->be->close(src);
	free(src->device);
	free(src);
}

int drv_source_grab(struct drv_source *src, struct drv_frame *f, uint64_t timeout_ms)
{
	return src->be->grab(src, f, timeout_ms);
}

const char *drv_source_describe(const struct drv_source *src)
{
	return src->desc;
}
