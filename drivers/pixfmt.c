#include <string.h>

#include "drv.h"

static const char *const fmt_names[] = {
	[DRV_FMT_AUTO] = "auto", [DRV_FMT_MJPEG] = "mjpeg", [DRV_FMT_YUYV] = "yuyv",
	[DRV_FMT_UYVY] = "uyvy", [DRV_FMT_NV12] = "nv12", [DRV_FMT_YU12] = "yu12",
	[DRV_FMT_GREY] = "grey", [DRV_FMT_RGB24] = "rgb24", [DRV_FMT_BGR24] = "bgr24",
};

int drv_pixfmt_parse(const char *s, enum drv_pixfmt *out)
{
	for (size_t i = 0; i < AG_NELEM(fmt_names); i++) {
		if (strcmp(s, fmt_names[i]) == 0) {
			*out = (enum drv_pixfmt)i;
			return 0;
		}
	}
	return AG_EINVAL;
}

const char *drv_pixfmt_name(enum drv_pixfmt f)
{
	return (unsigned)f < AG_NELEM(fmt_names) ? fmt_names[f] : "?";
}

int drv_source_config_format(struct drv_source_config *cfg, const char *s)
{
	enum drv_pixfmt f;
	if (drv_pixfmt_parse(s, &f) == 0) {
		cfg->format = f;
		cfg->fourcc[0] = '\0';
		return 0;
	}
	size_t n = strlen(s);
	if (n < 3 || n > 4)
		return AG_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return AG_EINVAL;
	memcpy(cfg->fourcc, s, n);
	memset(cfg->fourcc + n, ' ', 4 - n);
	cfg->fourcc[4] = '\0';
	cfg->format = DRV_FMT_AUTO;
	return 0;
}

int drv_subsamp_parse(const char *s, enum drv_subsamp *out)
{
	static const char *const names[] = { "420", "422", "444", "gray" };
	for (size_t i = 0; i < AG_NELEM(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum drv_subsamp)i;
			return 0;
		}
	}
	return AG_EINVAL;
}
