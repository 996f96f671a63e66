/* net/ private: helpers shared by the Vertex AI parts of net/ (vertex.c, batch.c). */
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
