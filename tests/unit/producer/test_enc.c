/* test_enc.c - producer/prod_enc.c writes byte for byte what
 * obs_codec_encode() writes, and obs_codec_decode() reads it back. */
#include "../obs_test.h"
#include "../../../producer/prod_enc.h"

#include <stdint.h>
#include <stdlib.h>

static char *rnd_str(unsigned *seed, size_t maxlen) {
    size_t n = (size_t)rand_r(seed) % (maxlen + 1);
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(1 + rand_r(seed) % 255); /* any byte but NUL */
    s[n] = '\0';
    return s;
}

int main(void) {
    char err[256];
    struct obs_codec *c = obs_codec_create(err, sizeof(err));
    CHECK(c != NULL, "codec created (%s)", c ? "ok" : err);
    if (!c) OBS_TEST_END();
    struct prod_enc e;
    prod_enc_init(&e, obs_codec_fingerprint(c));
    CHECK(prod_enc_selfcheck(&e, c) == 1, "self-check agrees with obs_codec_encode");

    static const int64_t longs[] = {0,    1,    -1,        63,           64,        -64,          -65,
                                    8191, 8192, 1LL << 40, -(1LL << 40), INT64_MAX, INT64_MIN + 1};
    unsigned seed = 42;
    int same = 0, decoded = 0, rounds = 2000;
    for (int i = 0; i < rounds; i++) {
        char *s[9], *pay;
        for (int k = 0; k < 9; k++)
            s[k] = rnd_str(&seed, k == 4 ? 300 : 40);
        size_t plen = (size_t)rand_r(&seed) % (i % 10 == 0 ? 70000 : 400);
        pay = malloc(plen + 1);
        for (size_t k = 0; k < plen; k++)
            pay[k] = (char)rand_r(&seed); /* NUL bytes too: payload is bytes */
        struct obs_event ev = {
            .event_id = s[0],
            .tenant = s[1],
            .host = s[2],
            .user = i % 7 == 0 ? NULL : s[3],
            .source_path = s[4],
            .file_id = s[5],
            .source_offset = longs[i % 13],
            .session_id = s[6],
            .event_time_ms = i % 3 == 0 ? OBS_EVENT_TIME_NULL : longs[(i + 5) % 13],
            .observed_time_ms = longs[(i + 3) % 13],
            .agent = s[7],
            .agent_version = i % 2 ? NULL : s[8],
            .producer_version = "1.2.3",
            .redactions = (int32_t)(longs[(i + 1) % 13] & 0x7fffffff) - (i % 4 == 0 ? 100 : 0),
            .payload = pay,
            .payload_len = plen,
        };
        const void *a, *b;
        size_t na, nb;
        if (obs_codec_encode(c, &ev, &a, &na, err, sizeof(err)) == 0) {
            char *copy = malloc(na);
            memcpy(copy, a, na);
            if (prod_enc_event(&e, &ev, &b, &nb) == 0 && nb == na && memcmp(copy, b, na) == 0) same++;
            struct obs_event d;
            if (obs_codec_decode(c, b, nb, &d, err, sizeof(err)) == 0 &&
                d.source_offset == ev.source_offset && d.payload_len == plen &&
                (plen == 0 || memcmp(d.payload, pay, plen) == 0) && strcmp(d.source_path, s[4]) == 0 &&
                d.redactions == ev.redactions)
                decoded++;
            free(copy);
        }
        for (int k = 0; k < 9; k++)
            free(s[k]);
        free(pay);
    }
    CHECK(same == rounds, "%d/%d random events encoded byte-identically", same, rounds);
    CHECK(decoded == rounds, "%d/%d decoded back by obs_codec_decode", decoded, rounds);
    prod_enc_free(&e);
    obs_codec_destroy(c);
    OBS_TEST_END();
}
