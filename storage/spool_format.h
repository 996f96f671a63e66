/* On-disk encodings of the spool: record header, cursor slot, segment index.
 * Private to storage/. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define STG_MAGIC "FCR1"
#define STG_VERSION 1
#define STG_HDR_SIZE 40
#define STG_CURSOR_SLOT 32

struct stg_hdr {
	uint16_t version, flags;
	uint32_t meta_len, len;
	uint64_t seq, captured_ms;
	uint32_t crc;
};

/* Encode a header for a record (computes both CRCs over meta and payload). */
void stg_hdr_encode(uint8_t h[STG_HDR_SIZE], uint64_t seq, uint64_t captured_ms,
		    const void *meta, uint32_t meta_len, const void *payload, uint32_t len);
/* Decode and check magic, version and header CRC. 0 or AG_ECORRUPT. */
int stg_hdr_decode(const uint8_t h[STG_HDR_SIZE], struct stg_hdr *out);
/* CRC of a record: header bytes 0..31, then body (meta + payload). */
uint32_t stg_body_crc(const uint8_t h[STG_HDR_SIZE], const void *body, size_t len);

void stg_cursor_encode(uint8_t slot[STG_CURSOR_SLOT], uint64_t gen, uint64_t cursor);
/* 0 or AG_ECORRUPT. */
int stg_cursor_decode(const uint8_t slot[STG_CURSOR_SLOT], uint64_t *gen, uint64_t *cursor);

/* Segment index: 24-byte head (magic, count, file size), 32 bytes per entry,
 * then a CRC-32C of all that. */
size_t stg_index_size(size_t n);
void stg_index_begin(uint8_t *buf, uint64_t file_size, size_t n);
void stg_index_put(uint8_t *buf, size_t i, uint64_t seq, uint64_t off, uint64_t captured_ms,
		   uint32_t meta_len, uint32_t len);
void stg_index_finish(uint8_t *buf, size_t n);
/* Check an index; sets the file size it describes and the entry count. */
int stg_index_check(const uint8_t *buf, size_t len, uint64_t *file_size, size_t *n);
void stg_index_entry(const uint8_t *buf, size_t i, uint64_t *seq, uint64_t *off,
		     uint64_t *captured_ms, uint32_t *meta_len, uint32_t *len);
