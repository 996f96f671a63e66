#include "drv.h"

const char *drv_turbojpeg_version(void)
{
	return DRV_TURBOJPEG_VERSION;
}
