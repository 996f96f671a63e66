/* net/ private: helpers shared by the parts of net/ (vertex.c, batch.c, gcs.c). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "net.h"

/*
 * {"labels": [{"name", "confidence"}]} as an OpenAPI subset schema (upper
 * case types). labels: the allowed names (an enum, "none" added), or NULL
 * for any string. Returns the schema object (the caller attaches it), or
 * NULL when out of memory.
 */
cJSON *net_label_schema(char *const *labels);

/*
 * Label ids as the server sent them into labels[0..n): strings as they
 * are, numbers from the raw text of body (a double would round 19-digit
 * ids), taken from the "ids" array whose elements agree with what cJSON
 * read. False when an id is neither a string nor an integer, or too long.
 */
bool net_exact_ids(const char *body, size_t len, const cJSON *ids, struct net_label *labels, int n);

/*
 * The labels of a model's JSON answer, {"labels": [{"name", "confidence"}]}
 * (labels: that array, or NULL), into p: names outside allowed (NULL: any)
 * and "none" left out, confidences clamped to [0, 1]. Returns 0, or
 * AG_EPROTO with *why.
 */
int net_answer_labels(const cJSON *labels, char *const *allowed, struct net_prediction *p, const char **why);

/* Fill *elem from one element of a list; <0 with *why when unusable. */
typedef int (*net_page_elem_fn)(const cJSON *j, void *elem, const char **why);

/*
 * One page of a list reply j, {KEY: [...], "nextPageToken": "..."} (KEY
 * may be absent: no elements): each element through each() into a heap
 * array of elem_size-byte elements (*elems, *n of them), the token into
 * token (cap bytes; "" on the last page). A reply of another shape sets
 * *why and leaves *elems NULL and *n 0. Returns 0, or AG_ENOMEM.
 */
int net_parse_page(const cJSON *j, const char *key, size_t elem_size, net_page_elem_fn each, void **elems, size_t *n,
		   char *token, size_t cap, const char **why);
