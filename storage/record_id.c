#include <stdio.h>

#include "stg.h"

int stg_record_id(char *buf, size_t len, const char *device_id,
		  uint64_t boot_epoch, uint64_t seq)
{
	int n = snprintf(buf, len, "%s-%llu-%llu", device_id,
			 (unsigned long long)boot_epoch, (unsigned long long)seq);
	if (n < 0 || (size_t)n >= len)
		return AG_ETOOBIG;
	return n;
}
