/* prod_enc.h - the producer's direct Avro encoder for SessionEvent.
 *
 * Writes the same bytes as obs_codec_encode() (single-object header, then
 * the Avro binary body of schemas/session_event.avsc in field order) straight
 * into one reusable buffer: no generic value, no allocation per record. The
 * producer checks at start-up that both encoders agree on a sample event and
 * falls back to obs_codec_encode() when they do not (a schema change this
 * file does not know about); tests/unit/producer/test_enc.c compares them on
 * many events. Not thread-safe. */
#ifndef PROD_ENC_H
#define PROD_ENC_H

#include "obs_codec.h"

#include <stddef.h>
#include <stdint.h>

struct prod_enc {
    uint64_t fp; /* writer schema fingerprint (obs_codec_fingerprint) */
    char *buf;   /* output (owned) */
    size_t cap;  /* its size */
};

void prod_enc_init(struct prod_enc *e, uint64_t fingerprint);
void prod_enc_free(struct prod_enc *e);

/* Encode ev; *out (valid until the next call) and *outlen. 0, or -1 when out
 * of memory. NULL strings are written as "" (as obs_codec_encode does). */
int prod_enc_event(struct prod_enc *e, const struct obs_event *ev, const void **out, size_t *outlen);

/* 1 when prod_enc_event() writes exactly what obs_codec_encode() writes for
 * a sample event (with and without the optional fields), else 0. */
int prod_enc_selfcheck(struct prod_enc *e, struct obs_codec *c);

#endif
