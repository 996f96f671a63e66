/*
 * Fuzz the reply parsers: the :predict parser, the generateContent parser
 * (with and without an allowed list), the error envelopes behind
 * net_outcome_from_reply() and Retry-After. Any bytes must give 0 or
 * AG_EPROTO with a reason, bounded labels and one-line messages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_prediction(int rc, const char *why, const struct net_prediction *p)
{
	AG_CHECK(rc == 0 || rc == AG_EPROTO);
	AG_CHECK((rc == 0) == (why == NULL));
	AG_CHECK(!why || (why[0] && !strchr(why, '\n')));
	AG_CHECK(p->nlabels <= NET_MAX_LABELS);
	AG_CHECK(memchr(p->deployed_model_id, 0, sizeof(p->deployed_model_id)));
	AG_CHECK(memchr(p->model, 0, sizeof(p->model)));
	AG_CHECK(memchr(p->blocked, 0, sizeof(p->blocked)));
	for (size_t i = 0; i < p->nlabels; i++) {
		const struct net_label *l = &p->labels[i];
		AG_CHECK(memchr(l->id, 0, sizeof(l->id)) && memchr(l->name, 0, sizeof(l->name)));
		AG_CHECK(l->confidence >= 0 && l->confidence <= 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the parsers get exactly size bytes, no terminating NUL */
	char *exact = malloc(size ? size : 1);
	if (!exact)
		return 0;
	memcpy(exact, data, size);
	struct net_prediction p;
	const char *why;

	int rc = net_predict_parse(exact, size, &p, &why);
	check_prediction(rc, why, &p);

	rc = net_gemini_parse(exact, size, NULL, &p, &why);
	check_prediction(rc, why, &p);
	AG_CHECK(rc < 0 || p.nlabels == 0 || !p.blocked[0]);
	static char *const allowed[] = { "red", "green", "blue", "apple_scab", "healthy", NULL };
	rc = net_gemini_parse(exact, size, allowed, &p, &why);
	check_prediction(rc, why, &p);
	for (size_t i = 0; rc == 0 && i < p.nlabels; i++) {
		bool ok = false;
		for (char *const *l = allowed; *l; l++)
			ok |= strcmp(*l, p.labels[i].name) == 0;
		AG_CHECK(ok);
	}
	free(exact);

	/* a response body is NUL-terminated (and may hold NULs) */
	char *body = malloc(size + 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	static const long statuses[] = { 400, 401, 404, 412, 429, 500, 503 };
	struct net_response rs;
	memset(&rs, 0, sizeof(rs));
	rs.status = statuses[size % (sizeof(statuses) / sizeof(statuses[0]))];
	rs.body = body;
	rs.len = size;
	rs.retry_after_ms = -1;
	struct net_outcome oc;
	net_outcome_from_reply(&oc, "predict", 0, &rs);
	AG_CHECK(oc.verdict == net_classify_status(rs.status));
	AG_CHECK(oc.status == rs.status);
	AG_CHECK(memchr(oc.msg, 0, sizeof(oc.msg)) && !strchr(oc.msg, '\n') && !strchr(oc.msg, '\r'));
	AG_CHECK(oc.retry_after_ms >= -1 && oc.retry_after_ms < 86400000);

	int64_t ra = net_parse_retry_after(body, 1718000000);
	AG_CHECK(ra >= -1);
	free(body);
	return 0;
}
