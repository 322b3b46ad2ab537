/* obs_util.c - hashing, time and string helpers, see obs_util.h. */
#include "obs_util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct obs_sha256 {
    EVP_MD_CTX *ctx; /* OpenSSL digest context */
};

static void to_hex(const unsigned char *d, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void obs_sha256_hex(const void *data, size_t len, char *out, size_t nbytes) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    to_hex(md, nbytes > 32 ? 32 : nbytes, out);
}

struct obs_sha256 *obs_sha256_new(void) {
    struct obs_sha256 *h = malloc(sizeof(*h));
    if (!h) abort();
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx) abort();
    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
    return h;
}

void obs_sha256_update(struct obs_sha256 *h, const void *data, size_t len) {
    EVP_DigestUpdate(h->ctx, data, len);
}

void obs_sha256_final_hex(struct obs_sha256 *h, char *out, size_t nbytes) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(h->ctx, md, &mdlen);
    to_hex(md, nbytes > 32 ? 32 : nbytes, out);
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int obs_parse_iso8601_ms(const char *s, int64_t *ms) {
    int y, mo, d, h, mi, sec, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
    const char *p = s + 19;
    int frac = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) frac = frac * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (!digits) return -1;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z')
        p++;
    else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2) return -1;
        off = (int64_t)(oh * 60 + om) * 60 * 1000 * (*p == '+' ? 1 : -1);
        p += 6;
    } else
        return -1;
    if (*p) return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec) * 1000 + frac) - off;
    return 0;
}

void obs_format_iso8601_ms(int64_t ms, char *out, size_t len) {
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03dZ", buf, frac);
}

int64_t obs_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double obs_mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void obs_strlcpy(char *dst, const char *src, size_t len) {
    if (!len) return;
    size_t n = strlen(src);
    if (n >= len) n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}
