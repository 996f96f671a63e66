#include <string.h>

#include "ag.h"
#include "spool_format.h"

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

void stg_hdr_encode(uint8_t h[STG_HDR_SIZE], uint64_t seq, uint64_t captured_ms,
		    const void *meta, uint32_t meta_len, const void *payload, uint32_t len)
{
	memcpy(h, STG_MAGIC, 4);
	put16(h + 4, STG_VERSION);
	put16(h + 6, 0);
	put32(h + 8, meta_len);
	put32(h + 12, len);
	put64(h + 16, seq);
	put64(h + 24, captured_ms);
	uint32_t crc = ag_crc32c(0, h, 32);
	if (meta_len)
		crc = ag_crc32c(crc, meta, meta_len);
	if (len)
		crc = ag_crc32c(crc, payload, len);
	put32(h + 32, crc);
	put32(h + 36, ag_crc32c(0, h, 36));
}

int stg_hdr_decode(const uint8_t h[STG_HDR_SIZE], struct stg_hdr *out)
{
	if (memcmp(h, STG_MAGIC, 4) != 0 || get32(h + 36) != ag_crc32c(0, h, 36))
		return AG_ECORRUPT;
	out->version = get16(h + 4);
	out->flags = get16(h + 6);
	out->meta_len = get32(h + 8);
	out->len = get32(h + 12);
	out->seq = get64(h + 16);
	out->captured_ms = get64(h + 24);
	out->crc = get32(h + 32);
	if (out->version != STG_VERSION || out->seq == 0)
		return AG_ECORRUPT;
	return 0;
}

uint32_t stg_body_crc(const uint8_t h[STG_HDR_SIZE], const void *body, size_t len)
{
	uint32_t crc = ag_crc32c(0, h, 32);
	return len ? ag_crc32c(crc, body, len) : crc;
}

void stg_cursor_encode(uint8_t slot[STG_CURSOR_SLOT], uint64_t gen, uint64_t cursor)
{
	memset(slot, 0, STG_CURSOR_SLOT);
	memcpy(slot, "FCC1", 4);
	put64(slot + 8, gen);
	put64(slot + 16, cursor);
	put32(slot + 24, ag_crc32c(0, slot, 24));
}

int stg_cursor_decode(const uint8_t slot[STG_CURSOR_SLOT], uint64_t *gen, uint64_t *cursor)
{
	if (memcmp(slot, "FCC1", 4) != 0 || get32(slot + 24) != ag_crc32c(0, slot, 24))
		return AG_ECORRUPT;
	*gen = get64(slot + 8);
	*cursor = get64(slot + 16);
	return 0;
}

#define IDX_HEAD 24
#define IDX_ENTRY 32

size_t stg_index_size(size_t n)
{
	return IDX_HEAD + n * IDX_ENTRY + 4;
}

void stg_index_begin(uint8_t *buf, uint64_t file_size, size_t n)
{
	memcpy(buf, "FCI1", 4);
	put32(buf + 4, (uint32_t)n);
	put64(buf + 8, file_size);
	put64(buf + 16, 0);
}

void stg_index_put(uint8_t *buf, size_t i, uint64_t seq, uint64_t off, uint64_t captured_ms,
		   uint32_t meta_len, uint32_t len)
{
	uint8_t *p = buf + IDX_HEAD + i * IDX_ENTRY;
	put64(p, seq);
	put64(p + 8, off);
	put64(p + 16, captured_ms);
	put32(p + 24, meta_len);
	put32(p + 28, len);
}

void stg_index_finish(uint8_t *buf, size_t n)
{
	size_t body = IDX_HEAD + n * IDX_ENTRY;
	put32(buf + body, ag_crc32c(0, buf, body));
}

int stg_index_check(const uint8_t *buf, size_t len, uint64_t *file_size, size_t *n)
{
	if (len < IDX_HEAD + 4 || memcmp(buf, "FCI1", 4) != 0)
		return AG_ECORRUPT;
	size_t count = get32(buf + 4);
	if (stg_index_size(count) != len)
		return AG_ECORRUPT;
	if (get32(buf + len - 4) != ag_crc32c(0, buf, len - 4))
		return AG_ECORRUPT;
	*file_size = get64(buf + 8);
	*n = count;
	return 0;
}

void stg_index_entry(const uint8_t *buf, size_t i, uint64_t *seq, uint64_t *off,
		     uint64_t *captured_ms, uint32_t *meta_len, uint32_t *len)
{
	const uint8_t *p = buf + IDX_HEAD + i * IDX_ENTRY;
	*seq = get64(p);
	*off = get64(p + 8);
	*captured_ms = get64(p + 16);
	*meta_len = get32(p + 24);
	*len = get32(p + 28);
}
