/*
 * fieldcam drivers: frame sources (v4l2, testpattern, files) and the
 * JPEG encoder (TurboJPEG). Uses only the base (ag.h).
 */
#pragma once

#include "ag.h"

/* Version of the libjpeg-turbo this was built against ("2.1.5"). */
const char *drv_turbojpeg_version(void);
