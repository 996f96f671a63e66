/*
 * The uploader. Online prediction is not in this build yet (its net/
 * client is being written): create() says so and `run` exits 2 rather than
 * pretending to upload. upload.mode "none" needs no uploader.
 */
#define AG_LOG_TAG "upload"
#include "run.h"

int ag_uploader_create(struct ag_run *r, struct ag_uploader **out)
{
	(void)out;
	ag_log_err("upload.mode \"%s\" is not in this build yet: use \"none\" (spool only) for now",
		   ag_config_enum_name("upload.mode", r->cfg->upload.mode));
	return AG_EUNSUPPORTED;
}

void *ag_uploader_main(void *arg)
{
	(void)arg;
	return NULL;
}

void ag_uploader_join(struct ag_uploader *u, pthread_t t, uint64_t timeout_ms)
{
	(void)u;
	(void)timeout_ms;
	pthread_join(t, NULL);
}

void ag_uploader_reload(struct ag_uploader *u)
{
	(void)u;
}

bool ag_uploader_failed(struct ag_uploader *u)
{
	(void)u;
	return false;
}

void ag_uploader_destroy(struct ag_uploader *u)
{
	(void)u;
}
