/* prod_enc.c - direct Avro encoding of SessionEvent; see prod_enc.h. */
#include "prod_enc.h"

#include <stdlib.h>
#include <string.h>

void prod_enc_init(struct prod_enc *e, uint64_t fingerprint) {
    memset(e, 0, sizeof(*e));
    e->fp = fingerprint;
}

void prod_enc_free(struct prod_enc *e) {
    free(e->buf);
    e->buf = NULL;
    e->cap = 0;
}

/* Avro long: zig-zag, then base-128 varint, low group first. */
static char *put_long(char *o, int64_t v) {
    uint64_t n = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (n & ~(uint64_t)0x7f) {
        *o++ = (char)((n & 0x7f) | 0x80);
        n >>= 7;
    }
    *o++ = (char)n;
    return o;
}

static char *put_bytes(char *o, const void *s, size_t n) {
    o = put_long(o, (int64_t)n);
    if (n) memcpy(o, s, n);
    return o + n;
}

int prod_enc_event(struct prod_enc *e, const struct obs_event *ev, const void **out, size_t *outlen) {
    const char *str[9] = {ev->event_id,   ev->tenant,      ev->host,
                          ev->user,       ev->source_path, ev->file_id,
                          ev->session_id, ev->agent,       ev->producer_version};
    size_t len[9], need = 10 + 6 * 10 + ev->payload_len + 10;
    for (int i = 0; i < 9; i++) {
        if (!str[i]) str[i] = "";
        len[i] = strlen(str[i]);
        need += len[i] + 10;
    }
    size_t avlen = ev->agent_version ? strlen(ev->agent_version) : 0;
    need += avlen + 10;
    if (need > e->cap) {
        size_t nc = need * 2;
        char *nb = realloc(e->buf, nc);
        if (!nb) return -1;
        e->buf = nb;
        e->cap = nc;
    }
    char *o = e->buf;
    *o++ = (char)0xC3;
    *o++ = 0x01;
    for (int i = 0; i < 8; i++)
        *o++ = (char)((e->fp >> (8 * i)) & 0xff);
    for (int i = 0; i < 6; i++) /* event_id tenant host user source_path file_id */
        o = put_bytes(o, str[i], len[i]);
    o = put_long(o, ev->source_offset);
    o = put_bytes(o, str[6], len[6]); /* session_id */
    if (ev->event_time_ms == OBS_EVENT_TIME_NULL) {
        o = put_long(o, 0);
    } else {
        o = put_long(o, 1);
        o = put_long(o, ev->event_time_ms);
    }
    o = put_long(o, ev->observed_time_ms);
    o = put_bytes(o, str[7], len[7]); /* agent */
    if (!ev->agent_version) {
        o = put_long(o, 0);
    } else {
        o = put_long(o, 1);
        o = put_bytes(o, ev->agent_version, avlen);
    }
    o = put_bytes(o, str[8], len[8]); /* producer_version */
    o = put_long(o, ev->redactions);
    o = put_bytes(o, ev->payload, ev->payload_len);
    *out = e->buf;
    *outlen = (size_t)(o - e->buf);
    return 0;
}

int prod_enc_selfcheck(struct prod_enc *e, struct obs_codec *c) {
    struct obs_event ev = {
        .event_id = "0123456789abcdef0123456789abcdef",
        .tenant = "t",
        .host = "h\xc3\xa9",
        .user = "u",
        .source_path = "-p/s.jsonl",
        .file_id = "1:2:0011223344556677",
        .source_offset = 1234567890123,
        .session_id = "s",
        .event_time_ms = OBS_EVENT_TIME_NULL,
        .observed_time_ms = 1763800000000,
        .agent = "claude-code",
        .producer_version = "0.0.0",
        .redactions = 3,
        .payload = "{\"a\":1}",
        .payload_len = 7,
    };
    for (int round = 0; round < 3; round++) {
        if (round == 1) {
            ev.event_time_ms = -5;
            ev.agent_version = "2.0.1";
            ev.source_offset = 0;
            ev.redactions = -1;
        }
        if (round == 2) {
            ev.payload = "";
            ev.payload_len = 0;
            ev.user = NULL;
        }
        const void *a, *b;
        size_t na, nb;
        char err[256];
        if (obs_codec_encode(c, &ev, &a, &na, err, sizeof(err)) < 0) return 0;
        char *copy = malloc(na ? na : 1);
        if (!copy) return 0;
        memcpy(copy, a, na);
        int same = prod_enc_event(e, &ev, &b, &nb) == 0 && nb == na && memcmp(copy, b, na) == 0;
        free(copy);
        if (!same) return 0;
    }
    return 1;
}
