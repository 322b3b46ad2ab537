/* test_codec.c - the wire record: single-object framing, round trip of
 * every field, rejection of bad input, and the canonical form/fingerprint
 * (checked against the Avro spec's own example values). */
#include "../obs_test.h"
#include "obs_codec.h"

#include <stdlib.h>

int main(void) {
    char err[256] = "";
    /* CRC-64-AVRO of the canonical form of primitive schemas: values from
     * the Avro specification test vectors ("int" and "string"). */
    CHECK(obs_avro_crc64("\"int\"", 5) == 0x7275d51a3f395c8fULL, "fingerprint of \"int\" per spec");
    CHECK(obs_avro_crc64("\"string\"", 8) == 0x8f014872634503c7ULL, "fingerprint of \"string\" per spec");

    char *pcf = obs_avro_canonical_form(
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"doc\":\"x\",\"fields\":"
        "[{\"name\":\"f\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"},\"default\":1},"
        "{\"name\":\"g\",\"type\":[\"null\",\"string\"]}]}",
        err, sizeof(err));
    CHECK_STR(pcf,
              "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[{\"name\":\"f\",\"type\":\"long\"},"
              "{\"name\":\"g\",\"type\":[\"null\",\"string\"]}]}",
              "canonical form strips doc/default/logicalType and qualifies names");
    free(pcf);

    struct obs_codec *c = obs_codec_create(err, sizeof(err));
    CHECK(c != NULL, "codec builds from the embedded schema (%s)", err);
    if (!c) OBS_TEST_END();

    const char payload[] = "{\"type\":\"user\",\"x\":\"\\u0000\"}";
    struct obs_event ev = {.event_id = "0123456789abcdef0123456789abcdef",
                           .tenant = "acme",
                           .host = "h1",
                           .user = "alice",
                           .source_path = "-p/s.jsonl",
                           .file_id = "1:2:abcd",
                           .source_offset = 1234567890123LL,
                           .session_id = "s-1",
                           .event_time_ms = OBS_EVENT_TIME_NULL,
                           .observed_time_ms = 1732250000123LL,
                           .agent = "claude-code",
                           .agent_version = NULL,
                           .producer_version = "0.1.0",
                           .redactions = 3,
                           .payload = payload,
                           .payload_len = sizeof(payload) - 1};
    const void *buf;
    size_t len;
    CHECK(obs_codec_encode(c, &ev, &buf, &len, err, sizeof(err)) == 0, "encode (%s)", err);
    const unsigned char *b = buf;
    CHECK(b[0] == 0xC3 && b[1] == 0x01, "single-object magic C3 01");
    uint64_t fp = 0;
    for (int i = 0; i < 8; i++)
        fp |= (uint64_t)b[2 + i] << (8 * i);
    CHECK(fp == obs_codec_fingerprint(c), "header carries the schema fingerprint little-endian");

    unsigned char *copy = malloc(len);
    memcpy(copy, buf, len);
    struct obs_event out;
    CHECK(obs_codec_decode(c, copy, len, &out, err, sizeof(err)) == 0, "decode (%s)", err);
    CHECK_STR(out.event_id, ev.event_id, "event_id round trip");
    CHECK_STR(out.tenant, "acme", "tenant round trip");
    CHECK_STR(out.session_id, "s-1", "session_id round trip");
    CHECK_STR(out.source_path, "-p/s.jsonl", "source_path round trip");
    CHECK(out.source_offset == 1234567890123LL, "source_offset round trip (64-bit)");
    CHECK(out.event_time_ms == OBS_EVENT_TIME_NULL, "null event_time stays null");
    CHECK(out.agent_version == NULL, "null agent_version stays null");
    CHECK(out.redactions == 3, "redactions round trip");
    CHECK(out.payload_len == ev.payload_len && memcmp(out.payload, payload, ev.payload_len) == 0,
          "payload bytes round trip exactly");

    ev.event_time_ms = 1724472992053LL;
    ev.agent_version = "2.1.39";
    CHECK(obs_codec_encode(c, &ev, &buf, &len, err, sizeof(err)) == 0, "encode with optional fields");
    CHECK(obs_codec_decode(c, buf, len, &out, err, sizeof(err)) == 0 &&
              out.event_time_ms == 1724472992053LL && out.agent_version &&
              strcmp(out.agent_version, "2.1.39") == 0,
          "event_time and agent_version round trip");

    /* Bad input: each gives a clear error, never a crash. */
    CHECK(obs_codec_decode(c, "{\"json\":1}", 10, &out, err, sizeof(err)) < 0 && strstr(err, "magic"),
          "plain JSON is rejected: %s", err);
    unsigned char wrongfp[32] = {0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0};
    CHECK(obs_codec_decode(c, wrongfp, sizeof(wrongfp), &out, err, sizeof(err)) < 0 &&
              strstr(err, "fingerprint"),
          "unknown writer fingerprint is rejected: %s", err);
    CHECK(obs_codec_encode(c, &ev, &buf, &len, err, sizeof(err)) == 0, "re-encode");
    CHECK(obs_codec_decode(c, buf, len / 2, &out, err, sizeof(err)) < 0, "truncated body is rejected: %s",
          err);
    CHECK(obs_codec_decode(c, buf, 5, &out, err, sizeof(err)) < 0, "5-byte value is rejected");

    free(copy);
    obs_codec_destroy(c);
    OBS_TEST_END();
}
