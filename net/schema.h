/* net/ private: the Gemini responseSchema fieldcam asks for. */
#pragma once

#include <cjson/cJSON.h>

/*
 * {"labels": [{"name", "confidence"}]} as an OpenAPI subset schema (upper
 * case types). labels: the allowed names (an enum, "none" added), or NULL
 * for any string. Returns the schema object (the caller attaches it), or
 * NULL when out of memory.
 */
cJSON *net_label_schema(char *const *labels);
