/*
 * What `run` (upload.mode online) and `predict` share: the net/ client
 * built from the config, one attempt-with-retries loop, and the result
 * line of SPEC.md.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ag.h"
#include "config.h"
#include "net.h"

struct drv_encoder;

struct ag_online {
	const struct ag_config *cfg;
	struct net_http *http;
	struct net_auth *auth;
	bool own_auth;               /* made here (else shared, the caller's) */
	struct net_client cl;
	struct net_predict_config pc;
	struct drv_encoder *enc;     /* made when an image must shrink */
	atomic_bool abort;           /* stops a running request (when no shared flag is given) */
};

/* Build the client. auth: a shared provider, or NULL to make one from the
 * config; abort: a shared flag that stops running requests, or NULL for
 * o->abort. Problems are printed (one line each) and returned:
 * AG_ECONFIG (credentials, key file), AG_ENOMEM. */
int ag_online_open(struct ag_online *o, const struct ag_config *cfg, struct net_auth *auth, atomic_bool *abort);
void ag_online_close(struct ag_online *o);

/*
 * The JPEG to send for jpeg: itself when it fits the online limit, else a
 * re-encoded copy (lower quality, then 1/2 and 1/4 scale) held by o.
 * Returns 0 (*out, *out_len set; *how says what was done, "" if nothing)
 * or AG_ETOOBIG / AG_ECORRUPT (cannot be made to fit / not a JPEG).
 */
int ag_online_fit(struct ag_online *o, const uint8_t *jpeg, size_t len, const uint8_t **out, size_t *out_len,
		  char *how, size_t how_len);

/* The result line for a prediction (heap string without newline, or NULL
 * on ENOMEM). id and captured_at may be NULL (predict of a file). */
char *ag_online_result_line(const struct ag_online *o, const char *key, const char *id, const char *captured_at,
			    const struct net_prediction *p);
