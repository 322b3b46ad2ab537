/* obs_codec.h - the wire record: Avro single-object encoding of
 * schemas/session_event.avsc (SessionEvent).
 *
 * Layout of one Kafka value: 0xC3 0x01, the 8-byte little-endian
 * CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form,
 * then the Avro binary body. The decoder knows every schema shipped in
 * schemas/ (current and schemas/history/), picks the writer schema by
 * fingerprint and resolves it to the current reader schema, so records
 * written by an older producer still decode. Encoding and decoding use
 * avro-c's generic value interface. */
#ifndef OBS_CODEC_H
#define OBS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define OBS_EVENT_TIME_NULL INT64_MIN

/* One SessionEvent. For encoding, the caller owns every pointer. After
 * decoding, pointers point into the codec and stay valid until the next
 * obs_codec_decode() or obs_codec_destroy() on that codec. */
struct obs_event {
    const char *event_id;         /* 32 hex chars */
    const char *tenant;           /* tenant id */
    const char *host;             /* machine name */
    const char *user;             /* OS user */
    const char *source_path;      /* path relative to the watch root */
    const char *file_id;          /* dev:inode:fingerprint */
    int64_t source_offset;        /* byte offset of the line */
    const char *session_id;       /* also the Kafka key */
    int64_t event_time_ms;        /* OBS_EVENT_TIME_NULL when unknown */
    int64_t observed_time_ms;     /* when the producer read the line */
    const char *agent;            /* "claude-code" */
    const char *agent_version;    /* NULL when unknown */
    const char *producer_version; /* OBS_VERSION of the writer */
    int32_t redactions;           /* secrets redacted from the payload */
    const void *payload;          /* the raw line, no newline */
    size_t payload_len;           /* its length */
};

struct obs_codec;

/* Parse the embedded schemas. NULL on failure with errstr filled. */
struct obs_codec *obs_codec_create(char *errstr, size_t errlen);
void obs_codec_destroy(struct obs_codec *c);

/* Encode ev. On success *out points to an internal buffer valid until the
 * next encode; returns 0. On failure returns -1 with errstr. */
int obs_codec_encode(struct obs_codec *c, const struct obs_event *ev, const void **out, size_t *outlen,
                     char *errstr, size_t errlen) __attribute__((warn_unused_result));

/* Decode one Kafka value into ev. Returns 0, or -1 with a reason in errstr
 * (bad magic, unknown fingerprint, truncated body). */
int obs_codec_decode(struct obs_codec *c, const void *data, size_t len, struct obs_event *ev, char *errstr,
                     size_t errlen) __attribute__((warn_unused_result));

/* Fingerprint of the current writer schema (CRC-64-AVRO of its PCF). */
uint64_t obs_codec_fingerprint(const struct obs_codec *c);

/* Parsing Canonical Form of a schema given as JSON text; malloc'd string
 * or NULL. Exposed for tests. */
char *obs_avro_canonical_form(const char *schema_json, char *errstr, size_t errlen);
/* CRC-64-AVRO (Rabin) of len bytes. */
uint64_t obs_avro_crc64(const void *data, size_t len);

/* Schemas embedded at build time from schemas/ (generated file). */
struct obs_schema_text {
    const char *name; /* file name, e.g. "session_event.avsc" */
    const char *json; /* its contents */
    int current;      /* 1 for the schema this build writes */
};
extern const struct obs_schema_text obs_schema_texts[];
extern const size_t obs_schema_ntexts;

#endif
