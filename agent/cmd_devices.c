#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "cli.h"
#include "drv.h"

const char ag_usage_devices[] =
	"usage: fieldcam devices [--json]\n"
	"\n"
	"List the V4L2 video capture devices with their formats, frame sizes and\n"
	"frame rates. Formats fieldcam encodes directly are marked with *.\n"
	"\n"
	"  --json   one JSON array instead of text\n";

static bool encodable(const char *fourcc)
{
	static const char *const ok[] = { "MJPG", "JPEG", "YUYV", "UYVY", "NV12", "YU12", "GREY", "RGB3", "BGR3" };
	for (size_t i = 0; i < AG_NELEM(ok); i++)
		if (strcmp(fourcc, ok[i]) == 0)
			return true;
	return false;
}

int ag_cmd_devices(int argc, char **argv)
{
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			ag_cli_usage_error(argv[0], "unknown argument '%s'", argv[i]);
			return AG_EXIT_USAGE;
		}
	}
	struct drv_device_info *list;
	size_t n;
	if (drv_devices_list(&list, &n) < 0) {
		fprintf(stderr, "fieldcam devices: out of memory\n");
		return AG_EXIT_FAIL;
	}
	if (json) {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) {
			const struct drv_device_info *d = &list[i];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "path", d->path);
			cJSON_AddStringToObject(o, "card", d->card);
			cJSON_AddStringToObject(o, "driver", d->driver);
			cJSON_AddStringToObject(o, "bus", d->bus);
			cJSON *fa = cJSON_AddArrayToObject(o, "formats");
			for (unsigned k = 0; k < d->nformats; k++) {
				const struct drv_format_info *f = &d->formats[k];
				cJSON *fo = cJSON_CreateObject();
				cJSON_AddStringToObject(fo, "fourcc", f->fourcc);
				cJSON_AddStringToObject(fo, "description", f->description);
				cJSON_AddBoolToObject(fo, "encodable", encodable(f->fourcc));
				if (f->stepwise) {
					char r[64];
					snprintf(r, sizeof(r), "%ux%u-%ux%u", f->min_w, f->min_h, f->max_w, f->max_h);
					cJSON_AddStringToObject(fo, "sizes", r);
				} else {
					cJSON *sa = cJSON_AddArrayToObject(fo, "sizes");
					for (unsigned s = 0; s < f->nsizes; s++) {
						cJSON *so = cJSON_CreateObject();
						char wh[32];
						snprintf(wh, sizeof(wh), "%ux%u", f->sizes[s].width, f->sizes[s].height);
						cJSON_AddStringToObject(so, "size", wh);
						cJSON *ra = cJSON_AddArrayToObject(so, "fps");
						for (unsigned r = 0; r < f->sizes[s].nfps; r++)
							cJSON_AddItemToArray(ra, cJSON_CreateNumber(f->sizes[s].fps[r]));
						cJSON_AddItemToArray(sa, so);
					}
				}
				cJSON_AddItemToArray(fa, fo);
			}
			cJSON_AddItemToArray(a, o);
		}
		char *out = cJSON_Print(a);
		if (out)
			printf("%s\n", out);
		free(out);
		cJSON_Delete(a);
	} else {
		if (n == 0)
			fprintf(stderr, "fieldcam devices: no V4L2 capture devices (/dev/video*)\n");
		for (size_t i = 0; i < n; i++) {
			const struct drv_device_info *d = &list[i];
			printf("%s: %s (%s, %s)\n", d->path, d->card, d->driver, d->bus);
			for (unsigned k = 0; k < d->nformats; k++) {
				const struct drv_format_info *f = &d->formats[k];
				printf("  %s%s %-24s", encodable(f->fourcc) ? "*" : " ", f->fourcc, f->description);
				if (f->stepwise)
					printf(" %ux%u to %ux%u", f->min_w, f->min_h, f->max_w, f->max_h);
				for (unsigned s = 0; s < f->nsizes; s++) {
					printf(" %ux%u", f->sizes[s].width, f->sizes[s].height);
					if (f->sizes[s].nfps)
						printf("@%u", f->sizes[s].fps[0]);
				}
				printf("\n");
			}
		}
	}
	free(list);
	return AG_EXIT_OK;
}
