/* Private to drivers/: the backend interface behind struct drv_source. */
#pragma once

#include "drv.h"

struct drv_source;

struct drv_backend {
	const char *name;
	int (*open)(struct drv_source *src);
	void (*close)(struct drv_source *src);
	int (*grab)(struct drv_source *src, struct drv_frame *f, uint64_t timeout_ms);
};

struct drv_source {
	const struct drv_backend *be;
	struct drv_source_config cfg;
	char *device;
	char desc[160];
	void *priv; /* the backend's */
};

extern const struct drv_backend drv_backend_testpattern;
extern const struct drv_backend drv_backend_files;
extern const struct drv_backend drv_backend_v4l2;
