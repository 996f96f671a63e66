#define AG_LOG_TAG "capture"
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"
#include "cli.h"
#include "drv.h"

const char ag_usage_capture[] =
	"usage: fieldcam capture [-d DEV] [-s WxH] [-f FMT] [-n N] [-q Q] -o PATH\n"
	"\n"
	"Grab N frames and write them as JPEG files: PATH is the file for N=1,\n"
	"else a folder that gets frame-000001.jpg, frame-000002.jpg, ...\n"
	"\n"
	"  -d, --device DEV     /dev/videoN, testpattern or files:DIR (default /dev/video0)\n"
	"  -s, --size WxH       frame size (default 1280x720)\n"
	"  -f, --format FMT     auto, mjpeg, yuyv, uyvy, nv12, yu12, grey, rgb24, bgr24,\n"
	"                       or a V4L2 fourcc (YVYU, RGBP, ...), converted if need be\n"
	"  -n, --count N        frames to grab (default 1)\n"
	"  -q, --quality Q      JPEG quality 1..100 (default 85)\n"
	"  -o, --output PATH    file (N=1) or folder\n"
	"\n"
	"Exit status 3 when the camera cannot be opened or read.\n";

static int parse_size(const char *s, unsigned *w, unsigned *h)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10);
	if (end == s || (*end != 'x' && *end != 'X'))
		return -1;
	const char *p = end + 1;
	unsigned long b = strtoul(p, &end, 10);
	if (end == p || *end || a == 0 || b == 0 || a > 7680 || b > 4320)
		return -1;
	*w = (unsigned)a;
	*h = (unsigned)b;
	return 0;
}

int ag_cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' }, { "size", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' }, { "count", required_argument, NULL, 'n' },
		{ "quality", required_argument, NULL, 'q' }, { "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct drv_source_config sc;
	drv_source_config_defaults(&sc);
	struct drv_encoder_config ec;
	drv_encoder_config_defaults(&ec);
	long count = 1;
	const char *out = NULL;
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":d:s:f:n:q:o:", opts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'd': sc.device = optarg; break;
		case 's':
			if (parse_size(optarg, &sc.width, &sc.height) < 0) {
				ag_cli_usage_error(argv[0], "-s: \"%s\" is not WIDTHxHEIGHT (e.g. 1280x720)", optarg);
				return AG_EXIT_USAGE;
			}
			break;
		case 'f':
			if (drv_source_config_format(&sc, optarg) < 0) {
				ag_cli_usage_error(argv[0], "-f: \"%s\" is not one of auto, mjpeg, yuyv, uyvy, nv12, yu12, grey, rgb24, bgr24, or a V4L2 fourcc such as YVYU", optarg);
				return AG_EXIT_USAGE;
			}
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1 || count > 1000000) {
				ag_cli_usage_error(argv[0], "-n: \"%s\" is not a count from 1 to 1000000", optarg);
				return AG_EXIT_USAGE;
			}
			break;
		case 'q': {
			long q = strtol(optarg, &end, 10);
			if (*end || q < 1 || q > 100) {
				ag_cli_usage_error(argv[0], "-q: \"%s\" is not a quality from 1 to 100", optarg);
				return AG_EXIT_USAGE;
			}
			ec.quality = (unsigned)q;
			break;
		}
		case 'o': out = optarg; break;
		default:
			return ag_cli_bad_option(argv[0], ch, argv);
		}
	}
	if (optind < argc) {
		ag_cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
		return AG_EXIT_USAGE;
	}
	if (!out) {
		ag_cli_usage_error(argv[0], "missing -o PATH");
		return AG_EXIT_USAGE;
	}
	if (count > 1 && ag_mkdir_p(out, 0755) < 0) {
		fprintf(stderr, "fieldcam capture: %s: cannot create folder: %s\n", out, strerror(errno));
		return AG_EXIT_FAIL;
	}
	struct drv_source *src = NULL;
	struct drv_encoder *enc = NULL;
	int rc = drv_source_open(&sc, &src);
	if (rc < 0)
		return AG_EXIT_DEVICE;
	if (drv_encoder_create(&ec, &enc) < 0) {
		drv_source_close(src);
		return AG_EXIT_FAIL;
	}
	ag_log_info("%s: capturing %ld frame%s", drv_source_describe(src), count, count > 1 ? "s" : "");
	int tty = isatty(STDERR_FILENO);
	int status = AG_EXIT_OK;
	long done = 0, failures = 0;
	while (done < count) {
		struct drv_frame f;
		rc = drv_source_grab(src, &f, 5000);
		if (rc == AG_EAGAIN || rc == AG_ETIMEDOUT || rc == AG_ECORRUPT || rc == AG_ENODEV) {
			/* the source recovers by itself; give up only after many misses */
			if (++failures > 50) {
				fprintf(stderr, "fieldcam capture: %s: no frame after %ld tries: %s\n",
					sc.device, failures, ag_strerror(rc));
				status = AG_EXIT_DEVICE;
				break;
			}
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "fieldcam capture: %s: %s\n", sc.device, ag_strerror(rc));
			status = AG_EXIT_DEVICE;
			break;
		}
		const uint8_t *jpeg;
		size_t len;
		rc = drv_encoder_encode(enc, &f, &jpeg, &len);
		if (rc == AG_ECORRUPT) {
			ag_log_warnx("%s: frame %llu is not a valid JPEG: skipped", sc.device,
				     (unsigned long long)f.sequence);
			continue;
		}
		if (rc < 0) {
			status = AG_EXIT_FAIL;
			break;
		}
		char path[PATH_MAX];
		if (count == 1)
			ag_strlcpy(path, out, sizeof(path));
		else
			snprintf(path, sizeof(path), "%.4000s/frame-%06ld.jpg", out, done + 1);
		rc = ag_file_replace(path, jpeg, len, 0644);
		if (rc < 0) {
			fprintf(stderr, "fieldcam capture: %s: cannot write: %s\n", path, strerror(errno));
			status = AG_EXIT_FAIL;
			break;
		}
		done++;
		failures = 0;
		if (tty && count > 1)
			fprintf(stderr, "\rcaptured %ld/%ld (%ux%u, %zu bytes)   ", done, count, f.width, f.height, len);
	}
	if (tty && count > 1)
		fputc('\n', stderr);
	drv_encoder_destroy(enc);
	drv_source_close(src);
	if (status == AG_EXIT_OK)
		ag_log_info("wrote %ld JPEG file%s to %s", done, done > 1 ? "s" : "", out);
	return status;
}
