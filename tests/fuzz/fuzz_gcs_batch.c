/*
 * Fuzz the batch and Cloud Storage parsers: output lines of the three
 * formats, job, operation and object resources, gs:// URIs. Any bytes
 * must give 0 or AG_EPROTO (AG_EINVAL/AG_ETOOBIG for URIs) with a reason,
 * bounded, terminated fields and one-line messages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(int rc, const char *why, const struct net_batch_result *r)
{
	AG_CHECK(rc == 0 || rc == AG_EPROTO);
	AG_CHECK(rc == 0 || (why && why[0] && !strchr(why, '\n')));
	AG_CHECK(memchr(r->key, 0, sizeof(r->key)));
	AG_CHECK(rc < 0 || r->key[0]);
	AG_CHECK(memchr(r->error.message, 0, sizeof(r->error.message)) && !strchr(r->error.message, '\n'));
	AG_CHECK(r->pred.nlabels <= NET_MAX_LABELS);
	AG_CHECK(!r->is_error || r->pred.nlabels == 0);
	AG_CHECK(r->is_error ? r->verdict == net_batch_item_verdict(r->error.code) : r->verdict == NET_DONE);
	for (size_t i = 0; i < r->pred.nlabels; i++) {
		const struct net_label *l = &r->pred.labels[i];
		AG_CHECK(memchr(l->id, 0, sizeof(l->id)) && memchr(l->name, 0, sizeof(l->name)));
		AG_CHECK(l->confidence >= 0 && l->confidence <= 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* parsers get exactly size bytes, no terminating NUL */
	char *exact = malloc(size ? size : 1);
	char *str = malloc(size + 1);
	if (!exact || !str) {
		free(exact);
		free(str);
		return 0;
	}
	memcpy(exact, data, size);
	memcpy(str, data, size);
	str[size] = '\0';
	const char *why;
	static char *const allowed[] = { "red", "green", "blue", NULL };
	struct net_batch_result r;
	for (int f = NET_BATCH_AUTOML; f <= NET_BATCH_OPENAI; f++) {
		int rc = net_batch_parse_line((enum net_batch_format)f, exact, size, f == NET_BATCH_AUTOML ? NULL : allowed,
					      &r, &why);
		check_result(rc, why, &r);
	}

	struct net_batch_job job;
	int rc = net_batch_job_parse(exact, size, &job, &why);
	AG_CHECK(rc == 0 || rc == AG_EPROTO);
	AG_CHECK(rc < 0 || (job.name[0] && memchr(job.state, 0, sizeof(job.state)) &&
			    job.npartial <= NET_BATCH_MAX_PARTIAL && memchr(job.output_dir, 0, sizeof(job.output_dir))));
	AG_CHECK(rc < 0 || job.terminal == net_batch_state_terminal(job.state));

	struct net_operation op;
	rc = net_operation_parse(exact, size, &op, &why);
	AG_CHECK(rc == 0 || rc == AG_EPROTO);
	AG_CHECK(rc < 0 || (strstr(op.name, "/operations/") && strncmp(op.name, op.target, strlen(op.target)) == 0));

	struct net_gcs_object o;
	rc = net_gcs_object_parse(exact, size, &o, &why);
	AG_CHECK(rc == 0 || rc == AG_EPROTO);
	AG_CHECK(rc < 0 || (o.name[0] && memchr(o.crc32c, 0, sizeof(o.crc32c))));

	char b[NET_GCS_BUCKET_MAX], n[NET_GCS_NAME_MAX];
	rc = net_gs_parse(str, b, n);
	AG_CHECK(rc == 0 || rc == AG_EINVAL || rc == AG_ETOOBIG);
	AG_CHECK(rc < 0 || (b[0] && strlen(b) + strlen(n) + 5 <= size));
	free(exact);
	free(str);
	return 0;
}
