/*
 * fieldcam dataset export: field images become training data. From
 * results.file (labels) and the images (in Cloud Storage for batch results,
 * in results.images_dir for online ones), write DIR/images/ID.jpg and a
 * Vertex AI image-classification import file (JSONL, or CSV with --csv)
 * whose gs:// paths are where --upload puts the images; with --upload, put
 * them there, create the dataset and import the file.
 */
#define AG_LOG_TAG "dataset"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"
#include "cli.h"
#include "config.h"
#include "net.h"

#define ATTEMPTS 6
#define MAX_IMAGE (32u << 20)

const char ag_usage_dataset_export[] =
	"usage: fieldcam dataset export -c FILE -o DIR [--multi-label] [--ml-use auto|training|validation|test]\n"
	"                               [--csv] [--name NAME] [--upload]\n"
	"\n"
	"Turn classified field images into a Vertex AI image dataset: DIR/images/ID.jpg\n"
	"and DIR/import.jsonl (or import.csv) for the image classification schema.\n"
	"Labels come from results.file: the top label, or with --multi-label every\n"
	"label at or above online.confidence_threshold. Images come from Cloud\n"
	"Storage (batch results) or results.images_dir (online results); results\n"
	"without an image or a label are skipped and counted.\n"
	"\n"
	"  -c, --config FILE   the configuration file (JSON)\n"
	"  -o, --output DIR    where to write (created)\n"
	"  --multi-label       several labels per image (multi-label schema)\n"
	"  --ml-use USE        training, validation or test for every image, or auto:\n"
	"                      80/10/10 by a hash of the image id (the same every time)\n"
	"  --csv               import.csv ([ML_USE,]GCS_PATH,LABEL...) instead of JSONL\n"
	"  --name NAME         the dataset's name (default fieldcam-DEVICE_ID-DATE)\n"
	"  --upload            upload images and import file to\n"
	"                      gs://batch.bucket/PREFIX/datasets/NAME/, create the dataset\n"
	"                      and import the file, waiting for both to finish\n"
	"\n"
	"The gs:// paths in the import file are under gs://batch.bucket/PREFIX/datasets/NAME/.\n"
	"Exit status: 0 done, 1 nothing to export or a file could not be written,\n"
	"2 usage or configuration error, 4 Cloud Storage or Vertex AI failed after retries.\n";

struct exporter {
	const struct ag_config *cfg;
	const char *out;
	bool multi, csv, upload;
	const char *ml_use;          /* NULL, "auto", or a fixed use */
	char name[128];
	char prefix[512];            /* PREFIX/datasets/NAME */
	struct net_http *http;
	struct net_auth *auth;
	struct net_client cl;
	/* counts */
	unsigned exported, no_label, no_image, dup;
	char **ids;
	size_t nids, capids;
};

static int client(struct exporter *x)
{
	if (x->http)
		return 0;
	const struct ag_config *c = x->cfg;
	struct net_http_config hc;
	net_http_config_defaults(&hc);
	hc.ca_file = c->tls.ca_file;
	hc.timeout_ms = c->upload.timeout_ms;
	hc.max_response = MAX_IMAGE + 4096;
	if (net_http_create(&hc, &x->http) < 0)
		return AG_ENOMEM;
	struct net_auth_config ac = {
		.type = (enum net_auth_type)c->auth.type, .key_file = c->auth.key_file,
		.token_uri = c->api.oauth_token_uri, .token_file = c->auth.token_file, .api_key = c->auth.api_key,
	};
	char why[512];
	int rc = net_auth_create(&ac, &x->auth, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "fieldcam dataset export: auth: %s\n", why);
		return rc;
	}
	x->cl.http = x->http;
	x->cl.auth = x->auth;
	x->cl.aiplatform = c->api.aiplatform;
	x->cl.storage = c->api.storage;
	return 0;
}

/* Drive one kind of call with the retry policy: up to ATTEMPTS. */
#define WITH_RETRY(x, oc, call)                                                                       \
	do {                                                                                          \
		struct net_backoff bo_;                                                               \
		net_backoff_init(&bo_, (x)->cfg->retry.initial_ms, (x)->cfg->retry.max_ms,            \
				 (x)->cfg->retry.multiplier);                                         \
		for (int a_ = 1;; a_++) {                                                             \
			if ((call) < 0)                                                               \
				net_outcome_set(&(oc), NET_FAIL, 0, "out of memory");                 \
			if ((oc).verdict != NET_RETRY || a_ == ATTEMPTS)                              \
				break;                                                                \
			uint64_t d_ = net_backoff_next(&bo_, (oc).retry_after_ms, (oc).slow_down);     \
			ag_log_warnx("%s: try %d of %d in %.1f s", (oc).msg, a_ + 1, ATTEMPTS,        \
				     (double)d_ / 1000);                                              \
			ag_sleep_ms(d_);                                                              \
		}                                                                                     \
	} while (0)

static const char *use_for(const struct exporter *x, const char *id)
{
	if (!x->ml_use)
		return NULL;
	if (strcmp(x->ml_use, "auto") != 0)
		return x->ml_use;
	unsigned h = ag_crc32c(0, id, strlen(id)) % 10; /* deterministic 80/10/10 */
	return h < 8 ? "training" : h == 8 ? "validation" : "test";
}

static bool seen(struct exporter *x, const char *id)
{
	for (size_t i = 0; i < x->nids; i++)
		if (strcmp(x->ids[i], id) == 0)
			return true;
	if (x->nids == x->capids) {
		size_t cap = x->capids ? x->capids * 2 : 256;
		char **n = realloc(x->ids, cap * sizeof(*n));
		if (!n)
			return false;
		x->ids = n;
		x->capids = cap;
	}
	x->ids[x->nids] = ag_strdup(id);
	if (x->ids[x->nids])
		x->nids++;
	return false;
}

static bool safe_id(const char *id)
{
	if (!id[0] || strlen(id) > 200)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '.'))
			return false;
	return true;
}

/* The image of a result into DIR/images/ID.jpg. 0, or <0 (skipped). */
static int fetch_image(struct exporter *x, const char *id, const char *image_uri, const char *dest)
{
	char *data = NULL;
	size_t len = 0;
	int rc;
	if (image_uri && strncmp(image_uri, "gs://", 5) == 0) {
		char bucket[NET_GCS_BUCKET_MAX], name[NET_GCS_NAME_MAX];
		if (net_gs_parse(image_uri, bucket, name) < 0 || (rc = client(x)) < 0)
			return AG_EINVAL;
		struct net_outcome oc;
		WITH_RETRY(x, oc, net_gcs_download(&x->cl, bucket, name, MAX_IMAGE, &data, &len, &oc));
		if (oc.verdict != NET_DONE) {
			ag_log_warnx("%s: %s: skipped", id, oc.msg);
			free(data);
			return oc.status == 404 ? AG_ENOENT : AG_ENET;
		}
	} else if (x->cfg->results.images_dir) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s.jpg", x->cfg->results.images_dir, id);
		if ((rc = ag_file_read(path, MAX_IMAGE, &data, &len)) < 0)
			return rc;
	} else {
		return AG_ENOENT;
	}
	rc = ag_file_replace(dest, data, len, 0644);
	free(data);
	return rc;
}

static int write_line(FILE *f, struct exporter *x, const char *id, const char *uri, cJSON *labels)
{
	const char *use = use_for(x, id);
	if (x->csv) {
		if (use)
			fprintf(f, "%s,", use);
		fprintf(f, "%s", uri);
		cJSON *l;
		cJSON_ArrayForEach(l, labels) {
			fprintf(f, ",%s", l->valuestring);
		}
		return fprintf(f, "\n") < 0 ? AG_EIO : 0;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "imageGcsUri", uri);
	if (x->multi) {
		cJSON *arr = cJSON_AddArrayToObject(o, "classificationAnnotations");
		cJSON *l;
		cJSON_ArrayForEach(l, labels) {
			cJSON *a = cJSON_CreateObject();
			cJSON_AddStringToObject(a, "displayName", l->valuestring);
			cJSON_AddItemToArray(arr, a);
		}
	} else {
		cJSON *a = cJSON_AddObjectToObject(o, "classificationAnnotation");
		cJSON_AddStringToObject(a, "displayName", cJSON_GetArrayItem(labels, 0)->valuestring);
	}
	if (use) {
		cJSON *r = cJSON_AddObjectToObject(o, "dataItemResourceLabels");
		cJSON_AddStringToObject(r, "aiplatform.googleapis.com/ml_use", use);
	}
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	int rc = s && fprintf(f, "%s\n", s) >= 0 ? 0 : AG_EIO;
	free(s);
	return rc;
}

/* A label name safe in a CSV cell and as a Vertex display name. */
static bool good_label(const char *s)
{
	return s[0] && strlen(s) <= 128 && !strpbrk(s, ",\n\r\"");
}

static int export_results(struct exporter *x, FILE *imp)
{
	FILE *f = fopen(x->cfg->results.file, "r");
	if (!f) {
		fprintf(stderr, "fieldcam dataset export: %s: %s\n", x->cfg->results.file, strerror(errno));
		return AG_ENOENT;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/images", x->out);
	while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
		cJSON *j = cJSON_ParseWithLength(line, (size_t)n);
		cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
		cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
		cJSON *uri = cJSON_GetObjectItemCaseSensitive(j, "image_uri");
		if (!cJSON_IsString(id) || !safe_id(id->valuestring) || cJSON_GetObjectItemCaseSensitive(j, "error")) {
			x->no_label++;
			cJSON_Delete(j);
			continue;
		}
		/* the labels to keep: the top one, or all at or above the threshold */
		cJSON *keep = cJSON_CreateArray();
		cJSON *l;
		cJSON_ArrayForEach(l, labels) {
			cJSON *nm = cJSON_GetObjectItemCaseSensitive(l, "name");
			cJSON *cf = cJSON_GetObjectItemCaseSensitive(l, "confidence");
			if (!cJSON_IsString(nm) || !good_label(nm->valuestring) || !cJSON_IsNumber(cf))
				continue;
			if (x->multi && cf->valuedouble < x->cfg->online.confidence_threshold)
				continue;
			cJSON_AddItemToArray(keep, cJSON_CreateString(nm->valuestring));
			if (!x->multi)
				break;
		}
		if (cJSON_GetArraySize(keep) == 0) {
			x->no_label++;
		} else if (seen(x, id->valuestring)) {
			x->dup++;
		} else {
			char dest[PATH_MAX + 256], gs[NET_GCS_NAME_MAX + NET_GCS_BUCKET_MAX + 16];
			snprintf(dest, sizeof(dest), "%s/%s.jpg", dir, id->valuestring);
			if (fetch_image(x, id->valuestring, cJSON_IsString(uri) ? uri->valuestring : NULL, dest) < 0) {
				x->no_image++;
			} else {
				snprintf(gs, sizeof(gs), "gs://%s/%s/images/%s.jpg", x->cfg->batch.bucket, x->prefix,
					 id->valuestring);
				rc = write_line(imp, x, id->valuestring, gs, keep);
				x->exported++;
			}
		}
		cJSON_Delete(keep);
		cJSON_Delete(j);
	}
	free(line);
	fclose(f);
	return rc;
}

static int upload_all(struct exporter *x, const char *imp_path, const char *imp_name)
{
	struct net_outcome oc;
	int rc = client(x);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < x->nids; i++) {
		char path[PATH_MAX], name[NET_GCS_NAME_MAX];
		snprintf(path, sizeof(path), "%s/images/%s.jpg", x->out, x->ids[i]);
		char *data = NULL;
		size_t len = 0;
		if (ag_file_read(path, MAX_IMAGE, &data, &len) < 0)
			continue; /* skipped earlier: no image */
		snprintf(name, sizeof(name), "%s/images/%s.jpg", x->prefix, x->ids[i]);
		bool already = false;
		WITH_RETRY(x, oc, net_gcs_upload(&x->cl, x->cfg->batch.bucket, name, "image/jpeg", data, len, NULL,
						 &already, &oc));
		free(data);
		if (oc.verdict != NET_DONE) {
			fprintf(stderr, "fieldcam dataset export: %s\n", oc.msg);
			return AG_ENET;
		}
	}
	char *data = NULL;
	size_t len = 0;
	if ((rc = ag_file_read(imp_path, 1u << 30, &data, &len)) < 0)
		return rc;
	char name[NET_GCS_NAME_MAX];
	snprintf(name, sizeof(name), "%s/%s", x->prefix, imp_name);
	bool already = false;
	WITH_RETRY(x, oc, net_gcs_upload(&x->cl, x->cfg->batch.bucket, name,
					 x->csv ? "text/csv" : "application/jsonl", data, len, NULL, &already, &oc));
	free(data);
	if (oc.verdict != NET_DONE) {
		fprintf(stderr, "fieldcam dataset export: %s\n", oc.msg);
		return AG_ENET;
	}
	printf("uploaded %zu images and gs://%s/%s\n", x->nids, x->cfg->batch.bucket, name);
	return 0;
}

/* Poll an operation until done (5 s growing to 60 s; retry.initial when shorter). */
static int wait_op(struct exporter *x, struct net_operation *op, const char *what)
{
	uint64_t wait = x->cfg->retry.initial_ms < 5000 ? x->cfg->retry.initial_ms : 5000;
	struct net_outcome oc;
	while (!op->done) {
		ag_sleep_ms(wait);
		wait = wait * 2 > 60000 ? 60000 : wait * 2;
		char name[sizeof(op->name)];
		ag_strlcpy(name, op->name, sizeof(name));
		WITH_RETRY(x, oc, net_operation_get(&x->cl, name, op, &oc));
		if (oc.verdict != NET_DONE) {
			fprintf(stderr, "fieldcam dataset export: %s: %s\n", what, oc.msg);
			return AG_ENET;
		}
	}
	if (op->has_error) {
		fprintf(stderr, "fieldcam dataset export: %s failed: code %d: %s\n", what, op->error.code,
			op->error.message);
		return AG_EREJECTED;
	}
	return 0;
}

static int create_and_import(struct exporter *x, const char *imp_name)
{
	const struct ag_config *c = x->cfg;
	char parent[256] = "";
	const char *src = c->batch.parent ? c->batch.parent : c->batch.model ? c->batch.model : c->online.endpoint;
	const char *loc = src ? strstr(src, "/locations/") : NULL;
	if (src && strncmp(src, "projects/", 9) == 0 && loc) {
		size_t l = strcspn(loc + 11, "/");
		snprintf(parent, sizeof(parent), "%.*s", (int)(loc + 11 + l - src), src);
	}
	if (!parent[0]) {
		fprintf(stderr, "fieldcam dataset export: --upload needs a project and location: set batch.parent\n");
		return AG_ECONFIG;
	}
	struct net_operation op;
	struct net_outcome oc;
	bool maybe = false;
	WITH_RETRY(x, oc, net_dataset_create(&x->cl, parent, x->name, &op, &maybe, &oc));
	if (oc.verdict != NET_DONE) {
		fprintf(stderr, "fieldcam dataset export: create %s: %s%s\n", x->name, oc.msg,
			maybe ? " (the dataset may exist: check before running again)" : "");
		return AG_ENET;
	}
	int rc = wait_op(x, &op, "dataset create");
	if (rc < 0)
		return rc;
	char dataset[512];
	ag_strlcpy(dataset, op.response_name[0] ? op.response_name : op.target, sizeof(dataset));
	printf("dataset %s created\n", dataset);
	char uri[NET_GCS_NAME_MAX + NET_GCS_BUCKET_MAX + 16];
	snprintf(uri, sizeof(uri), "gs://%s/%s/%s", c->batch.bucket, x->prefix, imp_name);
	const char *uris[1] = { uri };
	WITH_RETRY(x, oc, net_dataset_import(&x->cl, dataset, uris, 1, x->multi, &op, &oc));
	if (oc.verdict != NET_DONE) {
		fprintf(stderr, "fieldcam dataset export: import: %s\n", oc.msg);
		return AG_ENET;
	}
	if ((rc = wait_op(x, &op, "import")) < 0)
		return rc;
	printf("imported %s into %s\n", uri, dataset);
	return 0;
}

int ag_cmd_dataset_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "output", required_argument, NULL, 'o' },
		{ "multi-label", no_argument, NULL, 'm' }, { "ml-use", required_argument, NULL, 'u' },
		{ "csv", no_argument, NULL, 'v' }, { "name", required_argument, NULL, 'n' },
		{ "upload", no_argument, NULL, 'U' }, { NULL, 0, NULL, 0 },
	};
	struct exporter x;
	memset(&x, 0, sizeof(x));
	const char *path = NULL, *name = NULL;
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'o': x.out = optarg; break;
		case 'm': x.multi = true; break;
		case 'v': x.csv = true; break;
		case 'U': x.upload = true; break;
		case 'n': name = optarg; break;
		case 'u':
			if (strcmp(optarg, "auto") && strcmp(optarg, "training") && strcmp(optarg, "validation") &&
			    strcmp(optarg, "test")) {
				ag_cli_usage_error(argv[0], "--ml-use: \"%s\" is not auto, training, validation or test", optarg);
				return AG_EXIT_USAGE;
			}
			x.ml_use = optarg;
			break;
		default:
			return ag_cli_bad_option(argv[0], ch, argv);
		}
	}
	int rc = ag_cli_need_config(argv[0], path, argc, argv);
	if (rc)
		return rc;
	if (!x.out) {
		ag_cli_usage_error(argv[0], "-o DIR is required");
		return AG_EXIT_USAGE;
	}
	if (name && (!safe_id(name) || strlen(name) > 100)) {
		ag_cli_usage_error(argv[0], "--name: \"%s\" must be letters, digits, '-', '_' or '.'", name);
		return AG_EXIT_USAGE;
	}
	struct ag_config cfg;
	if ((rc = ag_cli_load_config(path, &cfg)) != 0)
		return rc;
	x.cfg = &cfg;
	int status = AG_EXIT_OK;
	if (!cfg.batch.bucket) {
		fprintf(stderr, "fieldcam dataset export: %s: batch.bucket: missing: the import file names "
				"gs://batch.bucket/... paths\n", path);
		ag_config_free(&cfg);
		return AG_EXIT_USAGE;
	}
	if (name) {
		ag_strlcpy(x.name, name, sizeof(x.name));
	} else {
		char day[40];
		ag_format_rfc3339(ag_wall_ms(), day, sizeof(day));
		snprintf(x.name, sizeof(x.name), "fieldcam-%s-%.10s", cfg.device_id, day);
	}
	char pre[512];
	if (cfg.batch.prefix)
		snprintf(pre, sizeof(pre), "%s", cfg.batch.prefix);
	else
		snprintf(pre, sizeof(pre), "fieldcam/%s", cfg.device_id);
	size_t pl = strlen(pre);
	while (pl && pre[pl - 1] == '/')
		pre[--pl] = '\0';
	snprintf(x.prefix, sizeof(x.prefix), "%.300s/datasets/%.128s", pre, x.name);

	char dir[PATH_MAX], imp_path[PATH_MAX];
	const char *imp_name = x.csv ? "import.csv" : "import.jsonl";
	snprintf(dir, sizeof(dir), "%s/images", x.out);
	snprintf(imp_path, sizeof(imp_path), "%s/%s", x.out, imp_name);
	FILE *imp = NULL;
	if ((rc = ag_mkdir_p(dir, 0755)) < 0 || !(imp = fopen(imp_path, "w"))) {
		fprintf(stderr, "fieldcam dataset export: %s: %s\n", rc < 0 ? dir : imp_path,
			rc < 0 ? ag_strerror(rc) : strerror(errno));
		status = AG_EXIT_FAIL;
		goto out;
	}
	rc = export_results(&x, imp);
	if (fclose(imp) != 0 && rc == 0)
		rc = AG_EIO;
	if (rc < 0) {
		if (rc != AG_ENOENT)
			fprintf(stderr, "fieldcam dataset export: %s: %s\n", imp_path, ag_strerror(rc));
		status = AG_EXIT_FAIL;
		goto out;
	}
	printf("%u images exported to %s (%s, %s%s%s); skipped: %u without a label, %u without an image, %u repeated\n",
	       x.exported, imp_path, x.multi ? "multi-label" : "single-label", x.csv ? "CSV" : "JSONL",
	       x.ml_use ? ", ml_use " : "", x.ml_use ? x.ml_use : "", x.no_label, x.no_image, x.dup);
	if (x.exported == 0) {
		fprintf(stderr, "fieldcam dataset export: nothing to export from %s\n", cfg.results.file);
		status = AG_EXIT_FAIL;
		goto out;
	}
	if (x.upload) {
		rc = upload_all(&x, imp_path, imp_name);
		if (rc == 0)
			rc = create_and_import(&x, imp_name);
		if (rc < 0)
			status = rc == AG_ECONFIG ? AG_EXIT_USAGE : AG_EXIT_NET;
	}
out:
	for (size_t i = 0; i < x.nids; i++)
		free(x.ids[i]);
	free(x.ids);
	net_auth_destroy(x.auth);
	net_http_destroy(x.http);
	ag_config_free(&cfg);
	return status;
}
