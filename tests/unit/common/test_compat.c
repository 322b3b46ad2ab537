/* test_compat.c - records written by older producers must still decode.
 * Decodes the golden version-1 record in tests/fixtures/wire/ (written by
 * the 0.1.0 producer's codec) with this build and checks every field. */
#include "../obs_test.h"
#include "obs_codec.h"

#include <stdlib.h>

static size_t read_hex(const char *path, unsigned char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = 0;
    int hi = -1, ch;
    while ((ch = fgetc(f)) != EOF && n < cap) {
        int v = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
        if (v < 0) continue;
        if (hi < 0)
            hi = v;
        else
            out[n++] = (unsigned char)(hi << 4 | v), hi = -1;
    }
    fclose(f);
    return n;
}

int main(void) {
    unsigned char buf[4096];
    size_t n = read_hex("tests/fixtures/wire/session_event_v1.hex", buf, sizeof(buf));
    CHECK(n > 10, "golden v1 record read (%zu bytes; run from the repository root)", n);
    char err[256] = "";
    struct obs_codec *c = obs_codec_create(err, sizeof(err));
    CHECK(c != NULL, "codec (%s)", err);
    if (!c || n <= 10) OBS_TEST_END();
    struct obs_event ev;
    CHECK(obs_codec_decode(c, buf, n, &ev, err, sizeof(err)) == 0, "v1 record decodes with this build (%s)",
          err);
    CHECK_STR(ev.event_id, "00112233445566778899aabbccddeeff", "event_id");
    CHECK_STR(ev.tenant, "acme", "tenant");
    CHECK_STR(ev.host, "ws-17", "host");
    CHECK_STR(ev.user, "alice", "user");
    CHECK_STR(ev.source_path, "-Users-alice-src-webapp/3f2a9c1e-7b4d-4e8a-9c2f-5d1e8b7a6c40.jsonl",
              "source_path");
    CHECK_STR(ev.file_id, "2049:131074:0123456789abcdef", "file_id");
    CHECK(ev.source_offset == 4096, "source_offset");
    CHECK_STR(ev.session_id, "3f2a9c1e-7b4d-4e8a-9c2f-5d1e8b7a6c40", "session_id");
    CHECK(ev.event_time_ms == 1756008992053LL, "event_time");
    CHECK(ev.observed_time_ms == 1763790000000LL, "observed_time");
    CHECK_STR(ev.agent, "claude-code", "agent");
    CHECK_STR(ev.agent_version, "2.1.39", "agent_version");
    CHECK_STR(ev.producer_version, "0.1.0", "producer_version");
    CHECK(ev.redactions == 2, "redactions");
    const char want[] = "{\"type\":\"user\",\"sessionId\":\"3f2a9c1e-7b4d-4e8a-9c2f-5d1e8b7a6c40\","
                        "\"message\":{\"role\":\"user\",\"content\":\"hi\"}}";
    CHECK(ev.payload_len == sizeof(want) - 1 && memcmp(ev.payload, want, ev.payload_len) == 0,
          "payload bytes");
    obs_codec_destroy(c);
    OBS_TEST_END();
}
