#define AG_LOG_TAG "spool"
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "stg.h"

/* Defined in spool.c: the spool's folder. */
const char *stg_spool_dir(const struct stg_spool *sp);

int stg_spool_set_aside(struct stg_spool *sp, const struct stg_record *rec, const char *id,
			const char *reason)
{
	for (const char *p = id; *p; p++)
		if (*p == '/' || *p == '\\')
			return AG_EINVAL;
	if (!*id || id[0] == '.')
		return AG_EINVAL;
	char dir[PATH_MAX], path[PATH_MAX + 300];
	if (strlen(id) > 200)
		return AG_EINVAL;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/rejected", stg_spool_dir(sp)) >= sizeof(dir))
		return AG_ETOOBIG;
	int rc = ag_mkdir_p(dir, 0750);
	if (rc < 0) {
		ag_log_warn("%s: cannot create", dir);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s.jpg", dir, id);
	if ((rc = ag_file_replace(path, rec->payload, rec->len, 0640)) < 0) {
		ag_log_warn("%s: cannot write", path);
		return rc;
	}
	cJSON *o = cJSON_CreateObject();
	char when[40];
	ag_format_rfc3339(rec->captured_ms, when, sizeof(when));
	char now[40];
	ag_format_rfc3339(ag_wall_ms(), now, sizeof(now));
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddNumberToObject(o, "seq", (double)rec->seq);
	cJSON_AddStringToObject(o, "captured_at", when);
	cJSON_AddStringToObject(o, "rejected_at", now);
	cJSON_AddStringToObject(o, "reason", reason);
	if (rec->meta_len) {
		cJSON *m = cJSON_ParseWithLength((const char *)rec->meta, rec->meta_len);
		if (m)
			cJSON_AddItemToObject(o, "meta", m);
	}
	char *json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!json)
		return AG_ENOMEM;
	snprintf(path, sizeof(path), "%s/%s.json", dir, id);
	rc = ag_file_replace(path, json, strlen(json), 0640);
	free(json);
	if (rc < 0) {
		ag_log_warn("%s: cannot write", path);
		return rc;
	}
	ag_log_warnx("record %s rejected for good (%s): kept in %s", id, reason, dir);
	return 0;
}

int stg_spool_reject(struct stg_spool *sp, const struct stg_record *rec, const char *id,
		     const char *reason)
{
	int rc = stg_spool_set_aside(sp, rec, id, reason);
	return rc < 0 ? rc : stg_spool_ack(sp, rec->seq);
}
