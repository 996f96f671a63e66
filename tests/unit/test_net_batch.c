/*
 * net/gcs.c and net/batch.c: gs:// URIs, names, CRC-32C, label values,
 * JSONL input lines and output line parsing (offline), then against the
 * reference endpoint (tests/endpoint/refendpoint.py, started here with
 * --job-duration 1): multipart uploads and the 412 settlement, resumable
 * uploads through faults and dead sessions, listings with paging, batch
 * jobs in the three formats to their final states, the ambiguous create
 * on a reset, datasets and operations.
 */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <turbojpeg.h>

#include "ag.h"
#include "endpoint_fixture.h"
#include "net.h"

/* ---- offline ------------------------------------------------------------ */

static void test_gs_names_crc(void **state)
{
	(void)state;
	char b[NET_GCS_BUCKET_MAX], o[NET_GCS_NAME_MAX];
	assert_int_equal(net_gs_parse("gs://fieldcam-test-bucket/fc/images/a.jpg", b, o), 0);
	assert_string_equal(b, "fieldcam-test-bucket");
	assert_string_equal(o, "fc/images/a.jpg");
	assert_int_equal(net_gs_parse("gs://bkt", b, o), 0);
	assert_string_equal(b, "bkt");
	assert_string_equal(o, "");
	assert_int_equal(net_gs_parse("gs://bkt/dir/", b, o), 0);
	assert_string_equal(o, "dir/");
	assert_int_equal(net_gs_parse("https://bkt/x", b, o), AG_EINVAL);
	assert_int_equal(net_gs_parse("gs:///x", b, o), AG_EINVAL);
	assert_int_equal(net_gs_parse("gs://Upper/x", b, o), AG_EINVAL);
	assert_int_equal(net_gs_parse("gs://bkt/a\nb", b, o), AG_EINVAL);
	char big[1100] = "gs://bkt/";
	memset(big + 9, 'x', 1030);
	big[1039] = '\0';
	assert_int_equal(net_gs_parse(big, b, o), AG_ETOOBIG);

	char e[64];
	assert_int_equal(net_gcs_escape_name("fc/a b+c.jpg", e, sizeof(e)), (int)strlen("fc%2Fa%20b%2Bc.jpg"));
	assert_string_equal(e, "fc%2Fa%20b%2Bc.jpg");
	assert_int_equal(net_gcs_escape_name("fc/a", e, 5), AG_ETOOBIG);

	/* CRC-32C check value 0xE3069283, big-endian, base64 */
	char c[16];
	net_gcs_crc32c_b64(ag_crc32c(0, "123456789", 9), c);
	assert_string_equal(c, "4waSgw==");
	net_gcs_crc32c_b64(0, c);
	assert_string_equal(c, "AAAAAA==");
}

static void test_labels_states_codes(void **state)
{
	(void)state;
	assert_true(net_label_valid("cam07-1718000000-0003"));
	assert_true(net_label_valid(""));
	assert_true(net_label_valid("a_b-9"));
	assert_false(net_label_valid("Cam07"));
	assert_false(net_label_valid("a.b"));
	char l64[65];
	memset(l64, 'a', 64);
	l64[64] = '\0';
	assert_false(net_label_valid(l64));
	l64[63] = '\0';
	assert_true(net_label_valid(l64));
	char out[NET_LABEL_MAX + 1];
	net_label_from_id("Orchard.Cam 07-1718000000-0003", out);
	assert_string_equal(out, "orchard-cam-07-1718000000-0003");
	assert_true(net_label_valid(out));
	char longid[200];
	memset(longid, 'X', 199);
	longid[199] = '\0';
	net_label_from_id(longid, out);
	assert_int_equal(strlen(out), 63);
	assert_true(net_label_valid(out));

	assert_true(net_batch_state_terminal("JOB_STATE_SUCCEEDED"));
	assert_true(net_batch_state_terminal("JOB_STATE_PARTIALLY_SUCCEEDED"));
	assert_true(net_batch_state_terminal("JOB_STATE_FAILED"));
	assert_true(net_batch_state_terminal("JOB_STATE_CANCELLED"));
	assert_true(net_batch_state_terminal("JOB_STATE_EXPIRED"));
	assert_true(net_batch_state_terminal("SUCCEEDED"));
	assert_false(net_batch_state_terminal("JOB_STATE_RUNNING"));
	assert_false(net_batch_state_terminal("JOB_STATE_CANCELLING"));
	assert_false(net_batch_state_terminal("JOB_STATE_UNSPECIFIED"));
	assert_false(net_batch_state_terminal("JOB_STATE_SOMETHING_NEW"));

	assert_int_equal(net_batch_item_verdict(3), NET_REJECT);
	assert_int_equal(net_batch_item_verdict(5), NET_REJECT);
	assert_int_equal(net_batch_item_verdict(9), NET_REJECT);
	assert_int_equal(net_batch_item_verdict(4), NET_RETRY);
	assert_int_equal(net_batch_item_verdict(13), NET_RETRY);
	assert_int_equal(net_batch_item_verdict(14), NET_RETRY);
	assert_int_equal(net_batch_item_verdict(77), NET_RETRY);
}

static cJSON *parse_line(const char *line)
{
	size_t n = strlen(line);
	assert_true(n > 1 && line[n - 1] == '\n' && !memchr(line, '\n', n - 1));
	cJSON *j = cJSON_ParseWithLength(line, n);
	assert_non_null(j);
	return j;
}

static const char *jstr(const cJSON *o, const char *path)
{
	/* "a.b.0.c": objects by key, arrays by index */
	char buf[256];
	ag_strlcpy(buf, path, sizeof(buf));
	const cJSON *v = o;
	for (char *save = NULL, *t = strtok_r(buf, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
		v = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, atoi(t)) : cJSON_GetObjectItemCaseSensitive(v, t);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_input_lines(void **state)
{
	(void)state;
	const char *why;
	char *allowed[] = { "red", "blue", NULL };
	struct net_batch_item it = {
		.uri = "gs://bkt/fc/images/cam07-1-42.jpg", .custom_id = "cam07-1-42", .model = "llama-4",
		.labels = allowed,
	};
	char *l = net_batch_input_line(NET_BATCH_AUTOML, &it, &why);
	assert_non_null(l);
	cJSON *j = parse_line(l);
	assert_string_equal(jstr(j, "content"), it.uri);
	assert_string_equal(jstr(j, "mimeType"), "image/jpeg");
	assert_int_equal(cJSON_GetArraySize(j), 2);
	cJSON_Delete(j);
	free(l);

	l = net_batch_input_line(NET_BATCH_GEMINI, &it, &why);
	assert_non_null(l);
	j = parse_line(l);
	assert_string_equal(jstr(j, "request.contents.0.role"), "user");
	assert_string_equal(jstr(j, "request.contents.0.parts.0.fileData.fileUri"), it.uri);
	assert_string_equal(jstr(j, "request.contents.0.parts.0.fileData.mimeType"), "image/jpeg");
	assert_non_null(jstr(j, "request.contents.0.parts.1.text"));
	assert_string_equal(jstr(j, "request.generationConfig.responseMimeType"), "application/json");
	assert_string_equal(jstr(j, "request.generationConfig.responseSchema.properties.labels.items.properties.name.enum.1"),
			    "blue");
	cJSON_Delete(j);
	free(l);

	l = net_batch_input_line(NET_BATCH_OPENAI, &it, &why);
	assert_non_null(l);
	j = parse_line(l);
	assert_string_equal(jstr(j, "custom_id"), "cam07-1-42");
	assert_string_equal(jstr(j, "method"), "POST");
	assert_string_equal(jstr(j, "url"), "/v1/chat/completions");
	assert_string_equal(jstr(j, "body.model"), "llama-4");
	assert_string_equal(jstr(j, "body.messages.0.role"), "user");
	assert_string_equal(jstr(j, "body.messages.0.content.1.type"), "image_url");
	assert_string_equal(jstr(j, "body.messages.0.content.1.image_url.url"), it.uri);
	assert_non_null(strstr(jstr(j, "body.messages.0.content.0.text"), "Allowed labels: red, blue"));
	cJSON *mt = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "body"), "max_tokens");
	assert_true(cJSON_IsNumber(mt) && mt->valueint == 256);
	cJSON_Delete(j);
	free(l);

	/* what a format needs */
	struct net_batch_item bad = { .uri = "https://x/y.jpg" };
	assert_null(net_batch_input_line(NET_BATCH_AUTOML, &bad, &why));
	assert_non_null(why);
	bad.uri = "gs://bkt/a.jpg";
	assert_null(net_batch_input_line(NET_BATCH_OPENAI, &bad, &why));
	assert_non_null(strstr(why, "custom_id"));
}

static void test_output_lines(void **state)
{
	(void)state;
	struct net_batch_result r;
	const char *why;
	/* AutoML, 19-digit ids as numbers (a double would round them) and as strings */
	const char *a = "{\"instance\": {\"content\": \"gs://bkt/fc/a.jpg\", \"mimeType\": \"image/jpeg\"}, "
			"\"prediction\": {\"ids\": [8420011357000000001, \"1152921504606846977\"], "
			"\"displayNames\": [\"apple_scab\", \"healthy\"], \"confidences\": [0.91, 0.07]}}\n";
	assert_int_equal(net_batch_parse_line(NET_BATCH_AUTOML, a, strlen(a), NULL, &r, &why), 0);
	assert_string_equal(r.key, "gs://bkt/fc/a.jpg");
	assert_false(r.is_error);
	assert_int_equal(r.verdict, NET_DONE);
	assert_int_equal(r.pred.nlabels, 2);
	assert_string_equal(r.pred.labels[0].id, "8420011357000000001");
	assert_string_equal(r.pred.labels[0].name, "apple_scab");
	assert_string_equal(r.pred.labels[1].id, "1152921504606846977");
	assert_true(r.pred.labels[1].confidence == 0.07);
	/* an "ids" key inside the instance must not be taken for the prediction's */
	const char *a2 = "{\"instance\": {\"content\": \"gs://bkt/b.jpg\", \"x\": {\"ids\": [1, 2]}}, "
			 "\"prediction\": {\"ids\": [9007199254740993, 2], \"displayNames\": [\"a\", \"b\"], "
			 "\"confidences\": [0.5, 0.4]}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_AUTOML, a2, strlen(a2), NULL, &r, &why), 0);
	assert_string_equal(r.pred.labels[0].id, "9007199254740993");
	assert_string_equal(r.pred.labels[1].id, "2");
	/* empty prediction: zero labels */
	const char *a3 = "{\"instance\": {\"content\": \"gs://bkt/c.jpg\"}, \"prediction\": {\"ids\": [], "
			 "\"displayNames\": [], \"confidences\": []}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_AUTOML, a3, strlen(a3), NULL, &r, &why), 0);
	assert_int_equal(r.pred.nlabels, 0);
	/* error lines: the URI found wherever it is, the code classified */
	const char *e1 = "{\"instance\": {\"content\": \"gs://bkt/missing.jpg\", \"mimeType\": \"image/jpeg\"}, "
			 "\"error\": {\"code\": 5, \"message\": \"Object gs://bkt/missing.jpg does not exist\"}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_AUTOML, e1, strlen(e1), NULL, &r, &why), 0);
	assert_true(r.is_error);
	assert_int_equal(r.error.code, 5);
	assert_int_equal(r.verdict, NET_REJECT);
	assert_string_equal(r.key, "gs://bkt/missing.jpg");
	const char *e2 = "{\"instance\": \"{\\\"content\\\": \\\"gs://bkt/d.jpg\\\", broken\", "
			 "\"error\": {\"code\": 14, \"message\": \"unavailable\"}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_AUTOML, e2, strlen(e2), NULL, &r, &why), 0);
	assert_string_equal(r.key, "gs://bkt/d.jpg");
	assert_int_equal(r.verdict, NET_RETRY);
	/* unusable lines */
	const char *bad[] = {
		"not json", "[1]", "{\"prediction\": {}}",
		"{\"instance\": {\"content\": \"gs://b/x.jpg\"}}",
		"{\"instance\": {\"content\": \"gs://b/x.jpg\"}, \"prediction\": {\"ids\": [1.5], \"displayNames\": [\"a\"], \"confidences\": [0.5]}}",
		"{\"instance\": {\"content\": \"gs://b/x.jpg\"}, \"prediction\": {\"ids\": [1], \"displayNames\": [\"a\"], \"confidences\": [1.5]}}",
		"{\"instance\": {\"content\": \"gs://b/x.jpg\"}, \"prediction\": {\"ids\": [1, 2], \"displayNames\": [\"a\"], \"confidences\": [0.5]}}",
		"{\"a\": 1} {\"b\": 2}",
	};
	for (size_t i = 0; i < AG_NELEM(bad); i++) {
		assert_int_equal(net_batch_parse_line(NET_BATCH_AUTOML, bad[i], strlen(bad[i]), NULL, &r, &why),
				 AG_EPROTO);
		assert_non_null(why);
		assert_int_equal(r.pred.nlabels, 0);
	}

	/* Gemini: success, a text status, a Status object */
	char *allowed[] = { "red", "green", NULL };
	const char *g = "{\"status\": \"\", \"processed_time\": \"2025-06-10T08:13:16.826+00:00\", "
			"\"request\": {\"contents\": [{\"role\": \"user\", \"parts\": [{\"fileData\": {\"fileUri\": "
			"\"gs://bkt/fc/g.jpg\", \"mimeType\": \"image/jpeg\"}}, {\"text\": \"Classify\"}]}]}, "
			"\"response\": {\"candidates\": [{\"content\": {\"role\": \"model\", \"parts\": [{\"text\": "
			"\"{\\\"labels\\\":[{\\\"name\\\":\\\"red\\\",\\\"confidence\\\":0.8},{\\\"name\\\":\\\"blue\\\","
			"\\\"confidence\\\":0.1}]}\"}]}, \"finishReason\": \"STOP\"}], \"modelVersion\": \"gemini-2.5-flash\"}}\n";
	assert_int_equal(net_batch_parse_line(NET_BATCH_GEMINI, g, strlen(g), allowed, &r, &why), 0);
	assert_string_equal(r.key, "gs://bkt/fc/g.jpg");
	assert_false(r.is_error);
	assert_int_equal(r.pred.nlabels, 1); /* blue is not allowed */
	assert_string_equal(r.pred.labels[0].name, "red");
	const char *ge = "{\"status\": \"Cannot fetch content from the provided URL gs://bkt/fc/h.jpg\", "
			 "\"processed_time\": \"x\", \"request\": {\"contents\": [{\"role\": \"user\", \"parts\": "
			 "[{\"fileData\": {\"fileUri\": \"gs://bkt/fc/h.jpg\", \"mimeType\": \"image/jpeg\"}}]}]}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_GEMINI, ge, strlen(ge), NULL, &r, &why), 0);
	assert_true(r.is_error);
	assert_string_equal(r.key, "gs://bkt/fc/h.jpg");
	assert_non_null(strstr(r.error.message, "Cannot fetch"));
	const char *gs = "{\"status\": {\"code\": 3, \"message\": \"bad\"}, \"request\": {\"contents\": [{\"parts\": "
			 "[{\"fileData\": {\"fileUri\": \"gs://bkt/i.jpg\", \"mimeType\": \"image/jpeg\"}}]}]}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_GEMINI, gs, strlen(gs), NULL, &r, &why), 0);
	assert_true(r.is_error);
	assert_int_equal(r.error.code, 3);
	assert_int_equal(r.verdict, NET_REJECT);
	const char *gn = "{\"status\": \"\", \"request\": {\"contents\": [{\"parts\": [{\"fileData\": {\"fileUri\": "
			 "\"gs://bkt/j.jpg\", \"mimeType\": \"image/jpeg\"}}]}]}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_GEMINI, gn, strlen(gn), NULL, &r, &why), AG_EPROTO);
	assert_string_equal(r.key, "gs://bkt/j.jpg"); /* still known for the error record */

	/* OpenAI-compatible: custom_id, answer text, errors */
	const char *o = "{\"custom_id\": \"cam07-1-42\", \"response\": {\"object\": \"chat.completion\", "
			"\"model\": \"llama\", \"choices\": [{\"index\": 0, \"finish_reason\": \"stop\", \"message\": "
			"{\"role\": \"assistant\", \"content\": \"```json\\n{\\\"labels\\\":[{\\\"name\\\":\\\"green\\\","
			"\\\"confidence\\\":2}]}\\n```\"}}]}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_OPENAI, o, strlen(o), allowed, &r, &why), 0);
	assert_string_equal(r.key, "cam07-1-42");
	assert_int_equal(r.pred.nlabels, 1);
	assert_string_equal(r.pred.labels[0].name, "green");
	assert_true(r.pred.labels[0].confidence == 1.0); /* clamped */
	const char *oe = "{\"instance\": {\"custom_id\": \"cam07-1-43\", \"method\": \"POST\"}, "
			 "\"error\": {\"code\": 3, \"message\": \"method, url and body.messages are required\"}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_OPENAI, oe, strlen(oe), NULL, &r, &why), 0);
	assert_string_equal(r.key, "cam07-1-43");
	assert_true(r.is_error);
	assert_int_equal(r.verdict, NET_REJECT);
	const char *oh = "{\"custom_id\": \"x\", \"response\": [{\"error\": {\"code\": 503, \"message\": "
			 "\"busy\", \"status\": \"UNAVAILABLE\"}}]}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_OPENAI, oh, strlen(oh), NULL, &r, &why), 0);
	assert_true(r.is_error);
	assert_int_equal(r.error.code, 14);
	assert_int_equal(r.verdict, NET_RETRY);
	const char *ol = "{\"custom_id\": \"y\", \"response\": {\"choices\": [{\"finish_reason\": \"length\", "
			 "\"message\": {\"content\": \"{\\\"lab\"}}]}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_OPENAI, ol, strlen(ol), NULL, &r, &why), 0);
	assert_string_equal(r.pred.blocked, "length");
	const char *on = "{\"response\": {}}";
	assert_int_equal(net_batch_parse_line(NET_BATCH_OPENAI, on, strlen(on), NULL, &r, &why), AG_EPROTO);
}

static void test_job_and_operation_parse(void **state)
{
	(void)state;
	struct net_batch_job job;
	const char *why;
	const char *j1 = "{\"name\": \"projects/123456789/locations/us-central1/batchPredictionJobs/42\", "
			 "\"displayName\": \"b1\", \"state\": \"JOB_STATE_PARTIALLY_SUCCEEDED\", "
			 "\"completionStats\": {\"successfulCount\": \"12\", \"failedCount\": 3}, "
			 "\"partialFailures\": [{\"code\": 3, \"message\": \"bad\"}, {\"code\": 13}], "
			 "\"outputInfo\": {\"gcsOutputDirectory\": \"gs://b/out/prediction-x\"}, "
			 "\"labels\": {\"fieldcam_batch\": \"b1\"}, \"unknownField\": true}";
	assert_int_equal(net_batch_job_parse(j1, strlen(j1), &job, &why), 0);
	assert_string_equal(job.state, "JOB_STATE_PARTIALLY_SUCCEEDED");
	assert_true(job.terminal);
	assert_int_equal(job.successful, 12);
	assert_int_equal(job.failed, 3);
	assert_int_equal(job.incomplete, 0); /* absent in a present completionStats */
	assert_int_equal(job.npartial, 2);
	assert_int_equal(job.partial[1].code, 13);
	assert_string_equal(job.output_dir, "gs://b/out/prediction-x");
	assert_string_equal(job.label, "b1");
	assert_false(job.has_error);
	const char *j2 = "{\"name\": \"p/l/batchPredictionJobs/1\", \"state\": \"JOB_STATE_NEW_THING\", "
			 "\"error\": {\"code\": 3, \"message\": \"Input is empty.\"}}";
	assert_int_equal(net_batch_job_parse(j2, strlen(j2), &job, &why), 0);
	assert_false(job.terminal);
	assert_true(job.has_error);
	assert_int_equal(job.error.code, 3);
	assert_int_equal(job.successful, -1);
	const char *j3 = "{\"name\": \"p/l/batchPredictionJobs/1\"}";
	assert_int_equal(net_batch_job_parse(j3, strlen(j3), &job, &why), 0);
	assert_string_equal(job.state, "JOB_STATE_UNSPECIFIED");
	const char *badj[] = {
		"{}", "[]", "{\"name\": 1}",
		"{\"name\": \"x\", \"completionStats\": {\"successfulCount\": \"12a\"}}",
		"{\"name\": \"x\", \"completionStats\": {\"failedCount\": 1.5}}",
		"{\"name\": \"x\", \"error\": \"boom\"}",
		"{\"name\": \"x\", \"state\": 4}",
	};
	for (size_t i = 0; i < AG_NELEM(badj); i++)
		assert_int_equal(net_batch_job_parse(badj[i], strlen(badj[i]), &job, &why), AG_EPROTO);

	struct net_operation op;
	const char *o1 = "{\"name\": \"projects/1/locations/l/datasets/456/operations/789\", \"done\": true, "
			 "\"response\": {\"@type\": \"type.googleapis.com/google.cloud.aiplatform.v1.Dataset\", "
			 "\"name\": \"projects/1/locations/l/datasets/456\"}}";
	assert_int_equal(net_operation_parse(o1, strlen(o1), &op, &why), 0);
	assert_true(op.done);
	assert_false(op.has_error);
	assert_string_equal(op.target, "projects/1/locations/l/datasets/456");
	assert_string_equal(op.response_name, "projects/1/locations/l/datasets/456");
	assert_non_null(strstr(op.response_type, "v1.Dataset"));
	const char *o2 = "{\"name\": \"a/operations/1\", \"done\": true, \"error\": {\"code\": 9, \"message\": \"no\"}}";
	assert_int_equal(net_operation_parse(o2, strlen(o2), &op, &why), 0);
	assert_true(op.has_error);
	assert_int_equal(op.error.code, 9);
	const char *o3 = "{\"name\": \"a/operations/1\", \"done\": \"yes\"}";
	assert_int_equal(net_operation_parse(o3, strlen(o3), &op, &why), AG_EPROTO);
	assert_int_equal(net_operation_parse("{\"name\": \"a\"}", 13, &op, &why), AG_EPROTO);

	/* the create body */
	const char *uris[] = { "gs://bkt/fc/batches/0003.jsonl" };
	struct net_batch_job_config jc = {
		.parent = "projects/p/locations/us-central1", .display_name = "fieldcam-cam07-0003",
		.model = "projects/p/locations/us-central1/models/7", .format = NET_BATCH_AUTOML,
		.confidence_threshold = 0.5, .max_predictions = 5, .input_uris = uris, .ninput = 1,
		.output_prefix = "gs://bkt/fc/out/0003/", .label = "cam07-0003",
	};
	char *body = net_batch_job_json(&jc, &why);
	assert_non_null(body);
	cJSON *j = cJSON_Parse(body);
	free(body);
	assert_string_equal(jstr(j, "displayName"), "fieldcam-cam07-0003");
	assert_string_equal(jstr(j, "inputConfig.instancesFormat"), "jsonl");
	assert_string_equal(jstr(j, "inputConfig.gcsSource.uris.0"), uris[0]);
	assert_string_equal(jstr(j, "outputConfig.predictionsFormat"), "jsonl");
	assert_string_equal(jstr(j, "outputConfig.gcsDestination.outputUriPrefix"), "gs://bkt/fc/out/0003/");
	assert_string_equal(jstr(j, "labels.fieldcam_batch"), "cam07-0003");
	assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "modelParameters"));
	cJSON_Delete(j);
	jc.format = NET_BATCH_GEMINI;
	body = net_batch_job_json(&jc, &why);
	j = cJSON_Parse(body);
	free(body);
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "modelParameters")); /* AutoML only */
	cJSON_Delete(j);
	jc.label = "Cam07";
	assert_null(net_batch_job_json(&jc, &why));
	jc.label = NULL;
	jc.ninput = 0;
	assert_null(net_batch_job_json(&jc, &why));
}

/* ---- against the reference endpoint ------------------------------------- */

static struct {
	bool up;
	struct fc_endpoint fx;
	char bucket[128], parent[256];
	char automl_model[256], gemini_model[256];
	struct net_http *http;
	struct net_auth *auth;
	struct net_client cl;
} ep;

#define NEED_ENDPOINT() do { if (!ep.up) skip(); } while (0)

static int endpoint_setup(void **state)
{
	(void)state;
	memset(&ep, 0, sizeof(ep));
	static const char *const extra[] = { "--job-duration", "1", "--page-size", "3", NULL };
	int rc = fc_endpoint_start(&ep.fx, "fc-netb", extra);
	if (rc <= 0)
		return rc; /* 0: no Python, the tests skip */
	const cJSON *j = ep.fx.info;
	ag_strlcpy(ep.bucket, fc_json_str(j, "bucket"), sizeof(ep.bucket));
	ag_strlcpy(ep.automl_model, fc_json_str(j, "batch_model"), sizeof(ep.automl_model));
	ag_strlcpy(ep.gemini_model, fc_json_str(j, "gemini_batch_model"), sizeof(ep.gemini_model));
	snprintf(ep.parent, sizeof(ep.parent), "projects/%s/locations/%s", fc_json_str(j, "project"),
		 fc_json_str(j, "location"));
	bool storage_same = strcmp(fc_json_str(cJSON_GetObjectItemCaseSensitive(j, "api"), "storage"), ep.fx.base) == 0;
	if (!ep.bucket[0] || !ep.automl_model[0] || !storage_same)
		return -1;

	struct net_http_config hc;
	net_http_config_defaults(&hc);
	hc.ca_file = ep.fx.ca;
	hc.timeout_ms = 15000;
	if (net_http_create(&hc, &ep.http) < 0)
		return -1;
	struct net_auth_config ac = { .type = NET_AUTH_SERVICE_ACCOUNT, .key_file = ep.fx.key_file };
	char why[256];
	if (net_auth_create(&ac, &ep.auth, why, sizeof(why)) != 0) {
		fprintf(stderr, "auth: %s\n", why);
		return -1;
	}
	ep.cl = (struct net_client){ .http = ep.http, .auth = ep.auth, .aiplatform = ep.fx.base, .storage = ep.fx.base };
	ep.up = true;
	return 0;
}

static int endpoint_teardown(void **state)
{
	(void)state;
	net_auth_destroy(ep.auth);
	net_http_destroy(ep.http);
	return fc_endpoint_stop(&ep.fx);
}

static void faults(const char *json)
{
	fc_endpoint_faults(&ep.fx, json);
}

/* Requests of a route in the endpoint's log (written after each reply). */
static int log_count(const char *route, long *bytes)
{
	char path[512], *text = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/requests.jsonl", ep.fx.dir);
	if (ag_file_read(path, 64 << 20, &text, &len) < 0)
		return 0;
	int n = 0;
	if (bytes)
		*bytes = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(l);
		if (strcmp(fc_json_str(j, "route"), route) == 0) {
			n++;
			cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "body_bytes");
			if (bytes && cJSON_IsNumber(b))
				*bytes += (long)b->valuedouble;
		}
		cJSON_Delete(j);
	}
	free(text);
	return n;
}

/* The log is written after the reply (or the reset): wait for it to settle. */
static int log_count_settled(const char *route, int want)
{
	int n = 0;
	for (int i = 0; i < 40; i++) {
		n = log_count(route, NULL);
		if (n >= want)
			break;
		ag_sleep_ms(25);
	}
	ag_sleep_ms(100);
	return log_count(route, NULL);
}

static uint8_t *make_jpeg(uint8_t r, uint8_t g, uint8_t b, unsigned long *len)
{
	enum { W = 48, H = 48 };
	static uint8_t rgb[W * H * 3];
	for (size_t i = 0; i < sizeof(rgb); i += 3) {
		rgb[i] = r;
		rgb[i + 1] = g;
		rgb[i + 2] = b;
	}
	uint8_t *jpeg = NULL;
	tjhandle tj = tjInitCompress();
	assert_non_null(tj);
	assert_int_equal(tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, &jpeg, len, TJSAMP_420, 85, 0), 0);
	tjDestroy(tj);
	return jpeg;
}

static void must_done(const struct net_outcome *oc)
{
	if (oc->verdict != NET_DONE)
		fail_msg("%s: %s", net_verdict_name(oc->verdict), oc->msg);
}

static void upload(const char *name, const void *data, size_t len, const char *type)
{
	struct net_outcome oc;
	assert_int_equal(net_gcs_upload(&ep.cl, ep.bucket, name, type, data, len, NULL, NULL, &oc), 0);
	must_done(&oc);
}

static char *download(const char *name, size_t *len)
{
	struct net_outcome oc;
	char *b = NULL;
	assert_int_equal(net_gcs_download(&ep.cl, ep.bucket, name, 8u << 20, &b, len, &oc), 0);
	must_done(&oc);
	return b;
}

static void test_upload_412(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	unsigned long jl;
	uint8_t *jpeg = make_jpeg(220, 30, 20, &jl);
	struct net_gcs_object o;
	struct net_outcome oc;
	bool already = true;
	const char *name = "fc/images/cam07 1718000000/42.jpg"; /* "/" and " " in the name */
	assert_int_equal(net_gcs_upload(&ep.cl, ep.bucket, name, "image/jpeg", jpeg, jl, &o, &already, &oc), 0);
	must_done(&oc);
	assert_false(already);
	assert_string_equal(o.name, name);
	assert_int_equal(o.size, jl);
	char crc[16];
	net_gcs_crc32c_b64(ag_crc32c(0, jpeg, jl), crc);
	assert_string_equal(o.crc32c, crc);
	assert_true(o.generation > 0);
	uint64_t gen = o.generation;

	/* the same bytes again: 412, settled as "already there" */
	assert_int_equal(net_gcs_upload(&ep.cl, ep.bucket, name, "image/jpeg", jpeg, jl, &o, &already, &oc), 0);
	must_done(&oc);
	assert_true(already);
	assert_int_equal(oc.status, 412);
	assert_non_null(strstr(oc.msg, "already there"));
	assert_int_equal(o.generation, gen);

	/* other bytes under the same name: a conflict, not overwritten */
	unsigned long bl;
	uint8_t *blue = make_jpeg(20, 30, 220, &bl);
	already = false;
	assert_int_equal(net_gcs_upload(&ep.cl, ep.bucket, name, "image/jpeg", blue, bl, &o, &already, &oc), 0);
	assert_int_equal(oc.verdict, NET_FAIL);
	assert_int_equal(oc.status, 412);
	assert_non_null(strstr(oc.msg, "conflict"));
	assert_false(already);
	size_t got;
	char *back = download(name, &got);
	assert_int_equal(got, jl);
	assert_memory_equal(back, jpeg, jl);
	free(back);
	assert_int_equal(net_gcs_stat(&ep.cl, ep.bucket, name, &o, &oc), 0);
	must_done(&oc);
	assert_int_equal(o.generation, gen);

	/* missing objects; a download over the cap */
	assert_int_equal(net_gcs_stat(&ep.cl, ep.bucket, "fc/nothing.jpg", &o, &oc), 0);
	assert_int_equal(oc.verdict, NET_FAIL);
	assert_int_equal(oc.status, 404);
	char *b = NULL;
	size_t bln = 0;
	assert_int_equal(net_gcs_download(&ep.cl, ep.bucket, name, 100, &b, &bln, &oc), 0);
	assert_int_equal(oc.verdict, NET_FAIL);
	assert_null(b);
	/* stored, then the reply dropped */
	faults("{\"faults\":[{\"route\":\"upload\",\"nth\":1,\"storeThenDrop\":true}]}");
	int ups = log_count("upload", NULL);
	assert_int_equal(net_gcs_upload(&ep.cl, ep.bucket, "fc/images/43.jpg", "image/jpeg", blue, bl, &o, &already,
					&oc), 0);
	faults(NULL);
	/* libcurl sent it again by itself (a reused connection died before
	 * any reply): the second copy met 412, settled as already there */
	must_done(&oc);
	assert_true(already);
	assert_int_equal(log_count_settled("upload", ups + 2), ups + 2);
	tjFree(jpeg);
	tjFree(blue);
}

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
	uint8_t *d = malloc(n);
	assert_non_null(d);
	uint64_t x = seed;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		d[i] = (uint8_t)(x >> 24);
	}
	return d;
}

static void test_resumable(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	size_t total = (1u << 20) + 12345;
	uint8_t *data = random_bytes(total, 0x1234567);
	uint32_t crc = ag_crc32c(0, data, total);
	const char *name = "fc/batches/big-0001.jsonl";
	struct net_gcs_resumable u;
	struct net_outcome oc;
	struct net_gcs_object o;
	bool already;
	assert_int_equal(net_gcs_resumable_init(&u, ep.bucket, name, "application/jsonl", total, crc, NULL), 0);
	u.chunk = NET_GCS_CHUNK_UNIT;
	long put_bytes0;
	int puts0 = log_count("upload_put", &put_bytes0);

	/* the 2nd chunk is stored, then the connection drops without a reply:
	 * libcurl re-sends the PUT on its own (the connection was reused), the
	 * server answers 400 (that range is behind its offset), the status
	 * query says where it stands, and sending goes on from there */
	faults("{\"faults\":[{\"route\":\"upload_put\",\"nth\":2,\"storeThenDrop\":true}]}");
	assert_int_equal(net_gcs_resumable_send(&ep.cl, &u, data, &o, &already, &oc), 0);
	must_done(&oc);
	faults(NULL);
	assert_true(u.done);
	assert_false(already);
	assert_int_equal(o.size, total);
	size_t got;
	char *back = download(name, &got);
	assert_int_equal(got, total);
	assert_memory_equal(back, data, total);
	free(back);
	/* chunks 1, 2 (reply dropped), 2 again (400), query, 3, 4, 5 */
	long put_bytes;
	int puts = log_count("upload_put", &put_bytes) - puts0;
	put_bytes -= put_bytes0;
	assert_int_equal(puts, 7);
	assert_int_equal(put_bytes, (long)(total + NET_GCS_CHUNK_UNIT));

	/* a timeout on the 2nd chunk (the server is slow: it stores the chunk
	 * after we gave up), then a process restart: only the persisted session
	 * URI survives, and the upload resumes from the server's offset */
	const char *name1 = "fc/batches/big-0001b.jsonl";
	struct net_http_config hc;
	net_http_config_defaults(&hc);
	hc.ca_file = ep.fx.ca;
	hc.timeout_ms = 1000;
	struct net_http *quick = NULL;
	assert_int_equal(net_http_create(&hc, &quick), 0);
	struct net_client qc = ep.cl;
	qc.http = quick;
	assert_int_equal(net_gcs_resumable_init(&u, ep.bucket, name1, "application/jsonl", total, crc, NULL), 0);
	u.chunk = NET_GCS_CHUNK_UNIT;
	puts0 = log_count("upload_put", &put_bytes0);
	faults("{\"faults\":[{\"route\":\"upload_put\",\"nth\":2,\"delay\":1.5}]}");
	assert_int_equal(net_gcs_resumable_send(&qc, &u, data, &o, &already, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_int_equal(oc.status, 0);
	assert_true(u.need_query);
	assert_int_equal(u.offset, NET_GCS_CHUNK_UNIT); /* as far as we know */
	assert_non_null(strstr(u.session, "upload_id="));
	net_http_destroy(quick);
	faults(NULL);
	char session[1024];
	ag_strlcpy(session, u.session, sizeof(session));
	assert_int_equal(log_count_settled("upload_put", puts0 + 2), puts0 + 2); /* the slow one is done */
	struct net_gcs_resumable v;
	assert_int_equal(net_gcs_resumable_init(&v, ep.bucket, name1, "application/jsonl", total, crc, session), 0);
	v.chunk = NET_GCS_CHUNK_UNIT;
	assert_true(v.need_query);
	assert_int_equal(net_gcs_resumable_send(&ep.cl, &v, data, &o, &already, &oc), 0);
	must_done(&oc);
	assert_int_equal(v.restarts, 0);
	assert_string_equal(v.session, session);
	back = download(name1, &got);
	assert_int_equal(got, total);
	assert_memory_equal(back, data, total);
	free(back);
	/* 1, 2 (timed out, kept), query, 3, 4, 5: no byte sent twice */
	puts = log_count("upload_put", &put_bytes) - puts0;
	put_bytes -= put_bytes0;
	assert_int_equal(puts, 6);
	assert_int_equal(put_bytes, (long)total);

	/* the last chunk's reply is cut: the object exists; the query says so */
	const char *name1c = "fc/batches/big-0001c.jsonl";
	assert_int_equal(net_gcs_resumable_init(&u, ep.bucket, name1c, "application/jsonl", total, crc, NULL), 0);
	u.chunk = 2 * NET_GCS_CHUNK_UNIT;
	faults("{\"faults\":[{\"route\":\"upload_put\",\"nth\":3,\"truncate\":10}]}");
	assert_int_equal(net_gcs_resumable_send(&ep.cl, &u, data, &o, &already, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_false(u.done);
	faults(NULL);
	assert_int_equal(net_gcs_resumable_send(&ep.cl, &u, data, &o, &already, &oc), 0);
	must_done(&oc);
	assert_int_equal(o.size, total);
	assert_string_equal(o.name, name1c);

	/* a 5xx on a chunk is resumed by a query, not by a new session */
	const char *name2 = "fc/batches/big-0002.jsonl";
	assert_int_equal(net_gcs_resumable_init(&u, ep.bucket, name2, "application/jsonl", total, crc, NULL), 0);
	u.chunk = 2 * NET_GCS_CHUNK_UNIT;
	faults("{\"faults\":[{\"route\":\"upload_put\",\"nth\":2,\"status\":503}]}");
	assert_int_equal(net_gcs_resumable_send(&ep.cl, &u, data, &o, &already, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_int_equal(oc.status, 503);
	assert_true(u.need_query);
	faults(NULL);
	ag_strlcpy(session, u.session, sizeof(session));
	assert_int_equal(net_gcs_resumable_send(&ep.cl, &u, data, &o, &already, &oc), 0);
	must_done(&oc);
	assert_string_equal(u.session, session);

	/* a dead session (404): a new one in the same attempt */
	const char *name3 = "fc/batches/big-0003.jsonl";
	char dead[512];
	snprintf(dead, sizeof(dead), "%s/upload/storage/v1/b/%s/o?uploadType=resumable&upload_id=gone", ep.fx.base,
		 ep.bucket);
	assert_int_equal(net_gcs_resumable_init(&u, ep.bucket, name3, "application/jsonl", total, crc, dead), 0);
	assert_int_equal(net_gcs_resumable_send(&ep.cl, &u, data, &o, &already, &oc), 0);
	must_done(&oc);
	assert_int_equal(u.restarts, 1);
	assert_string_not_equal(u.session, dead);
	back = download(name3, &got);
	assert_int_equal(got, total);
	assert_memory_equal(back, data, total);
	free(back);
	/* the same object again through a new session: 412, same bytes, already there */
	assert_int_equal(net_gcs_resumable_init(&u, ep.bucket, name3, "application/jsonl", total, crc, NULL), 0);
	assert_int_equal(net_gcs_resumable_send(&ep.cl, &u, data, &o, &already, &oc), 0);
	must_done(&oc);
	assert_true(already);
	/* other bytes under that name: conflict */
	data[5] ^= 1;
	assert_int_equal(net_gcs_resumable_init(&u, ep.bucket, name3, "application/jsonl", total,
						ag_crc32c(0, data, total), NULL), 0);
	assert_int_equal(net_gcs_resumable_send(&ep.cl, &u, data, &o, &already, &oc), 0);
	assert_int_equal(oc.verdict, NET_FAIL);
	assert_non_null(strstr(oc.msg, "conflict"));
	free(data);
}

static void test_list_paging(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	char name[64];
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "fc/list/obj-%d.txt", i);
		upload(name, name, strlen(name), "text/plain");
	}
	upload("fc/listing-not-under.txt", "x", 1, "text/plain");
	struct net_gcs_page p = { 0 };
	struct net_outcome oc;
	char token[512] = "";
	int pages = 0, seen = 0;
	do {
		assert_int_equal(net_gcs_list(&ep.cl, ep.bucket, "fc/list/", token, &p, &oc), 0);
		must_done(&oc);
		assert_true(p.n <= 3);
		for (size_t i = 0; i < p.n; i++) {
			snprintf(name, sizeof(name), "fc/list/obj-%d.txt", seen);
			assert_string_equal(p.items[i].name, name);
			assert_int_equal(p.items[i].size, strlen(name));
			seen++;
		}
		ag_strlcpy(token, p.next_page_token, sizeof(token));
		pages++;
	} while (token[0] && pages < 10);
	assert_int_equal(seen, 7);
	assert_int_equal(pages, 3);
	/* nothing under a prefix: no items, no token */
	assert_int_equal(net_gcs_list(&ep.cl, ep.bucket, "fc/none/", NULL, &p, &oc), 0);
	must_done(&oc);
	assert_int_equal(p.n, 0);
	assert_string_equal(p.next_page_token, "");
	net_gcs_page_free(&p);
}

/* Poll a job to a final state (the endpoint's jobs last 1 s). */
static void poll_job(const char *name, struct net_batch_job *job)
{
	struct net_outcome oc;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(net_batch_get(&ep.cl, name, job, &oc), 0);
		must_done(&oc);
		assert_string_equal(job->name, name);
		if (job->terminal)
			return;
		/* before the end it is one of the states a fresh job passes through */
		assert_true(strcmp(job->state, "JOB_STATE_RUNNING") == 0 || strcmp(job->state, "JOB_STATE_PENDING") == 0);
		ag_sleep_ms(100);
	}
	fail_msg("job %s still %s", name, job->state);
}

/* Every line of every predictions/errors file in dir, parsed. */
static int read_outputs(const char *dir, enum net_batch_format f, char *const *allowed,
			struct net_batch_result *out, int cap)
{
	char b[NET_GCS_BUCKET_MAX], prefix[NET_GCS_NAME_MAX];
	assert_int_equal(net_gs_parse(dir, b, prefix), 0);
	assert_string_equal(b, ep.bucket);
	size_t pl = strlen(prefix);
	if (pl && prefix[pl - 1] != '/')
		strcat(prefix, "/");
	struct net_gcs_page p = { 0 };
	struct net_outcome oc;
	char token[512] = "";
	int n = 0, files = 0;
	do {
		assert_int_equal(net_gcs_list(&ep.cl, ep.bucket, prefix, token, &p, &oc), 0);
		must_done(&oc);
		for (size_t i = 0; i < p.n; i++) {
			const char *base = strrchr(p.items[i].name, '/');
			base = base ? base + 1 : p.items[i].name;
			size_t bl = strlen(base);
			if ((strncmp(base, "predictions", 11) != 0 && strncmp(base, "errors", 6) != 0) || bl < 6 ||
			    strcmp(base + bl - 6, ".jsonl") != 0)
				continue;
			files++;
			size_t len;
			char *text = download(p.items[i].name, &len);
			for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
				const char *why;
				assert_true(n < cap);
				if (net_batch_parse_line(f, l, strlen(l), allowed, &out[n], &why) != 0)
					fail_msg("%s: %s: %s", p.items[i].name, why, l);
				n++;
			}
			free(text);
		}
		ag_strlcpy(token, p.next_page_token, sizeof(token));
	} while (token[0]);
	net_gcs_page_free(&p);
	assert_true(files >= 1);
	return n;
}

static const struct net_batch_result *find_key(const struct net_batch_result *r, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(r[i].key, key) == 0)
			return &r[i];
	fail_msg("no output line for %s", key);
	return NULL;
}

/* Upload images and an input file for f, run a job, read its output. */
static void run_format(enum net_batch_format f, const char *model, const char *id)
{
	unsigned long rl, bl;
	uint8_t *red = make_jpeg(220, 30, 20, &rl), *blue = make_jpeg(20, 30, 220, &bl);
	char rname[128], bname[128], mname[128], uris[3][320], ids[3][64], input[128], uri_in[320], prefix[320];
	snprintf(rname, sizeof(rname), "fc/%s/images/%s-1.jpg", id, id);
	snprintf(bname, sizeof(bname), "fc/%s/images/%s-2.jpg", id, id);
	snprintf(mname, sizeof(mname), "fc/%s/images/%s-3.jpg", id, id); /* never uploaded */
	upload(rname, red, rl, "image/jpeg");
	upload(bname, blue, bl, "image/jpeg");
	const char *names[3] = { rname, bname, mname };
	char *allowed[] = { "red", "blue", "green", NULL };
	char jsonl[8192] = "";
	for (int i = 0; i < 3; i++) {
		snprintf(uris[i], sizeof(uris[i]), "gs://%s/%s", ep.bucket, names[i]);
		snprintf(ids[i], sizeof(ids[i]), "%s-%d", id, i + 1);
		struct net_batch_item it = {
			.uri = uris[i], .custom_id = ids[i], .model = "llama-3.2-90b-vision-instruct-maas",
			.labels = allowed,
		};
		const char *why;
		char *line = net_batch_input_line(f, &it, &why);
		assert_non_null(line);
		if (f == NET_BATCH_OPENAI && i == 2) {
			/* the endpoint does not look at images in chat lines: make a bad line */
			free(line);
			line = ag_asprintf("{\"custom_id\": \"%s\", \"method\": \"GET\", \"url\": \"/v1/chat/completions\", \"body\": {}}\n",
					   ids[i]);
		}
		strcat(jsonl, line);
		free(line);
	}
	snprintf(input, sizeof(input), "fc/%s/batches/%s.jsonl", id, id);
	upload(input, jsonl, strlen(jsonl), "application/jsonl");
	snprintf(uri_in, sizeof(uri_in), "gs://%s/%s", ep.bucket, input);
	snprintf(prefix, sizeof(prefix), "gs://%s/fc/%s/out/", ep.bucket, id);
	const char *in[] = { uri_in };
	struct net_batch_job_config jc = {
		.parent = ep.parent, .display_name = id, .model = model, .format = f, .confidence_threshold = 0.0,
		.max_predictions = 3, .input_uris = in, .ninput = 1, .output_prefix = prefix, .label = id,
	};
	struct net_batch_job job;
	struct net_outcome oc;
	bool maybe = true;
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, &maybe, &oc), 0);
	must_done(&oc);
	assert_false(maybe);
	assert_non_null(strstr(job.name, "/batchPredictionJobs/"));
	assert_false(job.terminal);
	assert_string_equal(job.label, id);
	char name[256];
	ag_strlcpy(name, job.name, sizeof(name));
	poll_job(name, &job);
	const char *want = f == NET_BATCH_AUTOML ? "JOB_STATE_SUCCEEDED" : "JOB_STATE_PARTIALLY_SUCCEEDED";
	assert_string_equal(job.state, want);
	assert_int_equal(job.successful, 2);
	assert_int_equal(job.failed, 1);
	assert_int_equal(job.npartial, 1);
	assert_true(strncmp(job.output_dir, prefix, strlen(prefix)) == 0);

	/* list by label finds it (and only it) */
	struct net_batch_page pg = { 0 };
	assert_int_equal(net_batch_list(&ep.cl, ep.parent, id, NULL, &pg, &oc), 0);
	must_done(&oc);
	assert_int_equal(pg.n, 1);
	assert_string_equal(pg.jobs[0].name, name);
	assert_true(pg.jobs[0].terminal);
	net_batch_page_free(&pg);

	struct net_batch_result res[8];
	int n = read_outputs(job.output_dir, f, allowed, res, 8);
	assert_int_equal(n, 3);
	const char *keys[3];
	for (int i = 0; i < 3; i++)
		keys[i] = f == NET_BATCH_OPENAI ? ids[i] : uris[i];
	const struct net_batch_result *r0 = find_key(res, n, keys[0]);
	const struct net_batch_result *r1 = find_key(res, n, keys[1]);
	const struct net_batch_result *r2 = find_key(res, n, keys[2]);
	assert_false(r0->is_error);
	assert_false(r1->is_error);
	assert_true(r2->is_error); /* the image never uploaded; openai: the bad line */
	/* gemini's error lines carry text only: no code, so resubmit (the
	 * caller caps resubmissions) */
	assert_int_equal(r2->verdict, f == NET_BATCH_GEMINI ? NET_RETRY : NET_REJECT);
	if (f == NET_BATCH_AUTOML) {
		assert_int_equal(r2->error.code, 5);
		assert_int_equal(r0->pred.nlabels, 3);
		assert_string_equal(r0->pred.labels[0].name, "red");
		assert_int_equal(strlen(r0->pred.labels[0].id), 19);
		assert_string_equal(r1->pred.labels[0].name, "blue");
	} else if (f == NET_BATCH_GEMINI) {
		assert_true(r0->pred.nlabels >= 1);
		assert_string_equal(r0->pred.labels[0].name, "red");
		assert_string_equal(r1->pred.labels[0].name, "blue");
	} else {
		/* the endpoint's chat answer is {"labels":[]} */
		assert_int_equal(r0->pred.nlabels, 0);
		assert_string_equal(r0->pred.blocked, "");
		assert_int_equal(r2->error.code, 3);
	}
	tjFree(red);
	tjFree(blue);
}

static void test_batch_automl(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	run_format(NET_BATCH_AUTOML, ep.automl_model, "auto-0001");
}

static void test_batch_gemini(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	run_format(NET_BATCH_GEMINI, ep.gemini_model, "gem-0001");
}

static void test_batch_openai(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	run_format(NET_BATCH_OPENAI, "publishers/meta/models/llama-3.2-90b-vision-instruct-maas", "oai-0001");
}

static void test_batch_failed_cancelled(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	upload("fc/empty/in.jsonl", "", 0, "application/jsonl");
	char uri[256], prefix[256];
	snprintf(uri, sizeof(uri), "gs://%s/fc/empty/in.jsonl", ep.bucket);
	snprintf(prefix, sizeof(prefix), "gs://%s/fc/empty/out/", ep.bucket);
	const char *in[] = { uri };
	struct net_batch_job_config jc = {
		.parent = ep.parent, .display_name = "empty-0001", .model = ep.automl_model,
		.format = NET_BATCH_AUTOML, .input_uris = in, .ninput = 1, .output_prefix = prefix,
		.label = "empty-0001",
	};
	struct net_batch_job job;
	struct net_outcome oc;
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, NULL, &oc), 0);
	must_done(&oc);
	char name[256];
	ag_strlcpy(name, job.name, sizeof(name));
	poll_job(name, &job);
	assert_string_equal(job.state, "JOB_STATE_FAILED");
	assert_true(job.has_error);
	assert_int_equal(job.error.code, 3);
	assert_string_equal(job.output_dir, "");

	/* cancel right after create */
	jc.display_name = jc.label = "cancel-0001";
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, NULL, &oc), 0);
	must_done(&oc);
	ag_strlcpy(name, job.name, sizeof(name));
	assert_int_equal(net_batch_cancel(&ep.cl, name, &oc), 0);
	must_done(&oc);
	poll_job(name, &job);
	assert_string_equal(job.state, "JOB_STATE_CANCELLED");
	assert_true(job.has_error);
	assert_int_equal(job.error.code, 1);

	/* unknown job: 404 is NET_FAIL (deleted: resubmit) */
	char gone[300];
	snprintf(gone, sizeof(gone), "%s/batchPredictionJobs/1", ep.parent);
	assert_int_equal(net_batch_get(&ep.cl, gone, &job, &oc), 0);
	assert_int_equal(oc.verdict, NET_FAIL);
	assert_int_equal(oc.status, 404);
	/* a bad request is refused before sending */
	jc.label = "Not A Label";
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, NULL, &oc), AG_EINVAL);
	assert_int_equal(oc.verdict, NET_REJECT);
	/* and an unknown model by the server */
	jc.label = "x";
	jc.model = "projects/fieldcam-test/locations/us-central1/models/1";
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, NULL, &oc), 0);
	assert_int_equal(oc.verdict, NET_FAIL);
	assert_int_equal(oc.status, 404);
}

/* A reset on create: reported as "maybe created", sent exactly once. */
static void test_batch_create_reset(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	upload("fc/reset/in.jsonl", "{\"content\": \"gs://x/y.jpg\"}\n", 28, "application/jsonl");
	char uri[256], prefix[256];
	snprintf(uri, sizeof(uri), "gs://%s/fc/reset/in.jsonl", ep.bucket);
	snprintf(prefix, sizeof(prefix), "gs://%s/fc/reset/out/", ep.bucket);
	const char *in[] = { uri };
	struct net_batch_job_config jc = {
		.parent = ep.parent, .display_name = "reset-0001", .model = ep.automl_model,
		.format = NET_BATCH_AUTOML, .input_uris = in, .ninput = 1, .output_prefix = prefix,
		.label = "reset-0001",
	};
	struct net_batch_job job;
	struct net_outcome oc;
	struct net_batch_page pg = { 0 };
	/* a live connection in the handle that libcurl would reuse */
	assert_int_equal(net_batch_list(&ep.cl, ep.parent, "reset-0001", NULL, &pg, &oc), 0);
	must_done(&oc);
	assert_int_equal(pg.n, 0);
	uint64_t conns = net_http_connections(ep.http);
	int creates = log_count("batch_create", NULL);

	faults("{\"faults\":[{\"route\":\"batch_create\",\"nth\":1,\"reset\":true}]}");
	bool maybe = false;
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, &maybe, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_true(maybe);
	assert_non_null(strstr(oc.msg, "may have been created"));
	assert_true(net_http_connections(ep.http) > conns); /* it went out on a new connection */
	faults(NULL);
	/* exactly one create reached the endpoint: no silent second send */
	assert_int_equal(log_count_settled("batch_create", creates + 1), creates + 1);
	/* the caller searches before creating again: none there (the reset came
	 * before the endpoint acted), so it creates */
	assert_int_equal(net_batch_list(&ep.cl, ep.parent, "reset-0001", NULL, &pg, &oc), 0);
	must_done(&oc);
	assert_int_equal(pg.n, 0);
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, &maybe, &oc), 0);
	must_done(&oc);
	assert_false(maybe);
	assert_int_equal(log_count_settled("batch_create", creates + 2), creates + 2);

	/* processed, then the reply lost: maybe created, and the search finds it */
	jc.display_name = jc.label = "reset-0002";
	faults("{\"faults\":[{\"route\":\"batch_create\",\"nth\":1,\"storeThenDrop\":true}]}");
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, &maybe, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_true(maybe);
	faults(NULL);
	assert_int_equal(log_count_settled("batch_create", creates + 3), creates + 3);
	assert_int_equal(net_batch_list(&ep.cl, ep.parent, "reset-0002", NULL, &pg, &oc), 0);
	must_done(&oc);
	assert_int_equal(pg.n, 1);
	assert_string_equal(pg.jobs[0].display_name, "reset-0002");
	/* a 503 may have been acted on too */
	faults("{\"faults\":[{\"route\":\"batch_create\",\"nth\":1,\"status\":503}]}");
	jc.display_name = jc.label = "reset-0003";
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, &maybe, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_true(maybe);
	/* a 400 was not */
	faults("{\"faults\":[{\"route\":\"batch_create\",\"nth\":1,\"status\":400}]}");
	assert_int_equal(net_batch_create(&ep.cl, &jc, &job, &maybe, &oc), 0);
	assert_int_equal(oc.verdict, NET_REJECT);
	assert_false(maybe);
	faults(NULL);
	net_batch_page_free(&pg);
}

static void test_list_jobs_paging(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	/* more jobs than a page holds (3), all with one label */
	upload("fc/page/in.jsonl", "{\"content\": \"gs://x/y.jpg\"}\n", 28, "application/jsonl");
	char uri[256], prefix[256];
	snprintf(uri, sizeof(uri), "gs://%s/fc/page/in.jsonl", ep.bucket);
	snprintf(prefix, sizeof(prefix), "gs://%s/fc/page/out/", ep.bucket);
	const char *in[] = { uri };
	struct net_batch_job_config jc = {
		.parent = ep.parent, .display_name = "page", .model = ep.automl_model, .format = NET_BATCH_AUTOML,
		.input_uris = in, .ninput = 1, .output_prefix = prefix, .label = "page-0001",
	};
	struct net_batch_job job;
	struct net_outcome oc;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(net_batch_create(&ep.cl, &jc, &job, NULL, &oc), 0);
		must_done(&oc);
	}
	struct net_batch_page pg = { 0 };
	char token[512] = "";
	int total = 0, pages = 0;
	do {
		assert_int_equal(net_batch_list(&ep.cl, ep.parent, "page-0001", token, &pg, &oc), 0);
		must_done(&oc);
		for (size_t i = 0; i < pg.n; i++)
			assert_string_equal(pg.jobs[i].label, "page-0001");
		total += (int)pg.n;
		pages++;
		ag_strlcpy(token, pg.next_page_token, sizeof(token));
	} while (token[0] && pages < 10);
	assert_int_equal(total, 4);
	assert_int_equal(pages, 2);
	net_batch_page_free(&pg);
}

static void poll_op(const char *name, struct net_operation *op)
{
	struct net_outcome oc;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(net_operation_get(&ep.cl, name, op, &oc), 0);
		must_done(&oc);
		if (op->done)
			return;
		ag_sleep_ms(100);
	}
	fail_msg("operation %s not done", name);
}

static void test_dataset(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	unsigned long rl;
	uint8_t *red = make_jpeg(220, 30, 20, &rl);
	upload("fc/export/a.jpg", red, rl, "image/jpeg");
	upload("fc/export/b.jpg", red, rl, "image/jpeg");
	tjFree(red);
	char jsonl[1024];
	snprintf(jsonl, sizeof(jsonl),
		 "{\"imageGcsUri\": \"gs://%s/fc/export/a.jpg\", \"classificationAnnotation\": {\"displayName\": \"red\"}, "
		 "\"dataItemResourceLabels\": {\"aiplatform.googleapis.com/ml_use\": \"training\"}}\n"
		 "{\"imageGcsUri\": \"gs://%s/fc/export/b.jpg\", \"classificationAnnotation\": {\"displayName\": \"red\"}}\n",
		 ep.bucket, ep.bucket);
	upload("fc/export/import.jsonl", jsonl, strlen(jsonl), "application/jsonl");

	struct net_operation op;
	struct net_outcome oc;
	bool maybe = true;
	assert_int_equal(net_dataset_create(&ep.cl, ep.parent, "orchard-2025-06", &op, &maybe, &oc), 0);
	must_done(&oc);
	assert_false(maybe);
	assert_non_null(strstr(op.target, "/datasets/"));
	char opname[512], dataset[512];
	ag_strlcpy(opname, op.name, sizeof(opname));
	ag_strlcpy(dataset, op.target, sizeof(dataset));
	poll_op(opname, &op);
	assert_false(op.has_error);
	assert_string_equal(op.response_name, dataset);
	assert_non_null(strstr(op.response_type, "Dataset"));

	char uri[256];
	snprintf(uri, sizeof(uri), "gs://%s/fc/export/import.jsonl", ep.bucket);
	const char *uris[] = { uri };
	assert_int_equal(net_dataset_import(&ep.cl, dataset, uris, 1, false, &op, &oc), 0);
	must_done(&oc);
	assert_false(op.done);
	ag_strlcpy(opname, op.name, sizeof(opname));
	poll_op(opname, &op);
	assert_false(op.has_error);
	assert_non_null(strstr(op.response_type, "ImportDataResponse"));

	/* the single-label schema refuses a multi-label file; the multi-label one takes it */
	snprintf(jsonl, sizeof(jsonl),
		 "{\"imageGcsUri\": \"gs://%s/fc/export/a.jpg\", \"classificationAnnotations\": "
		 "[{\"displayName\": \"red\"}, {\"displayName\": \"bright\"}]}\n", ep.bucket);
	upload("fc/export/multi.jsonl", jsonl, strlen(jsonl), "application/jsonl");
	snprintf(uri, sizeof(uri), "gs://%s/fc/export/multi.jsonl", ep.bucket);
	assert_int_equal(net_dataset_import(&ep.cl, dataset, uris, 1, false, &op, &oc), 0);
	assert_int_equal(oc.verdict, NET_REJECT);
	assert_int_equal(net_dataset_import(&ep.cl, dataset, uris, 1, true, &op, &oc), 0);
	must_done(&oc);

	/* a reset on dataset create: maybe created, sent once */
	int creates = log_count("dataset_create", NULL);
	faults("{\"faults\":[{\"route\":\"dataset_create\",\"nth\":1,\"reset\":true}]}");
	assert_int_equal(net_dataset_create(&ep.cl, ep.parent, "orchard-2025-07", &op, &maybe, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_true(maybe);
	faults(NULL);
	assert_int_equal(log_count_settled("dataset_create", creates + 1), creates + 1);
}

int main(void)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(test_gs_names_crc),
		cmocka_unit_test(test_labels_states_codes),
		cmocka_unit_test(test_input_lines),
		cmocka_unit_test(test_output_lines),
		cmocka_unit_test(test_job_and_operation_parse),
	};
	const struct CMUnitTest endpoint[] = {
		cmocka_unit_test(test_upload_412),
		cmocka_unit_test(test_resumable),
		cmocka_unit_test(test_list_paging),
		cmocka_unit_test(test_batch_automl),
		cmocka_unit_test(test_batch_gemini),
		cmocka_unit_test(test_batch_openai),
		cmocka_unit_test(test_batch_failed_cancelled),
		cmocka_unit_test(test_batch_create_reset),
		cmocka_unit_test(test_list_jobs_paging),
		cmocka_unit_test(test_dataset),
	};
	if (net_global_init() != 0)
		return 1;
	int rc = cmocka_run_group_tests_name("offline", offline, NULL, NULL);
	rc += cmocka_run_group_tests_name("endpoint", endpoint, endpoint_setup, endpoint_teardown);
	net_global_cleanup();
	return rc;
}
