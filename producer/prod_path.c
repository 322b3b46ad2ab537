/* prod_path.c - session id, globs, fingerprint, event id and change
 * detection for the producer; see prod_path.h. */
#include "prod_path.h"

#include "obs_util.h"

#include <fnmatch.h>
#include <openssl/evp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copy n bytes of s into out as a NUL-terminated string (truncating). */
static void copy_n(char *out, size_t len, const char *s, size_t n) {
    if (len == 0) return;
    if (n >= len) n = len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

int prod_session_id(const char *rel, char *out, size_t len) {
    if (!rel) return -1;
    const char *c[64];
    size_t cl[64];
    size_t n = 0;
    const char *p = rel;
    while (*p) { /* split into non-empty components */
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (l > 0) {
            if (n == 64) return -1;
            c[n] = p;
            cl[n++] = l;
        }
        if (!slash) break;
        p = slash + 1;
    }
    if (n == 0) return -1;
    const char *base = c[n - 1];
    size_t bl = cl[n - 1];
    int jsonl = bl > 6 && memcmp(base + bl - 6, ".jsonl", 6) == 0;
    if (n == 1 || (n == 2 && jsonl)) { /* <s>.jsonl or <p>/<s>.jsonl */
        copy_n(out, len, base, jsonl ? bl - 6 : bl);
        return 0;
    }
    if (n >= 4 && cl[2] == 9 && memcmp(c[2], "subagents", 9) == 0) { /* <p>/<s>/subagents/... */
        copy_n(out, len, c[1], cl[1]);
        return 0;
    }
    copy_n(out, len, c[n - 2], cl[n - 2]); /* otherwise the parent directory */
    return 0;
}

int prod_glob_match_list(const char *list, const char *rel) {
    if (!list || !*list) return 0;
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    char pat[512];
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        while (l > 0 && (*p == ' ' || *p == '\t'))
            p++, l--;
        while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        if (l > 0 && l < sizeof(pat)) {
            memcpy(pat, p, l);
            pat[l] = '\0';
            if (fnmatch(pat, rel, FNM_PATHNAME) == 0) return 1;
            if (!strchr(pat, '/') && fnmatch(pat, base, 0) == 0) return 1;
        }
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

size_t prod_fp_span(const char *buf, size_t avail, uint64_t size) {
    size_t lim = avail < PROD_FP_MAX ? avail : PROD_FP_MAX;
    const char *nl = memchr(buf, '\n', lim);
    if (nl) return (size_t)(nl - buf) + 1;
    if (lim >= PROD_FP_MAX) return PROD_FP_MAX;
    (void)size;
    return 0;
}

void prod_fingerprint(const char *buf, size_t span, char out[PROD_FP_LEN]) {
    obs_sha256_hex(buf, span, out, 8);
}

void prod_file_id(uint64_t dev, uint64_t ino, const char *fp, char *out, size_t len) {
    snprintf(out, len, "%" PRIu64 ":%" PRIu64 ":%s", dev, ino, fp);
}

void prod_event_id(const char *tenant, const char *host, const char *source_path, const char *file_id,
                   int64_t offset, char out[PROD_EVENT_ID_LEN]) {
    char off[32];
    int n = snprintf(off, sizeof(off), "%" PRId64, offset);
    struct obs_sha256 *h = obs_sha256_new();
    obs_sha256_update(h, tenant, strlen(tenant) + 1);
    obs_sha256_update(h, host, strlen(host) + 1);
    obs_sha256_update(h, source_path, strlen(source_path) + 1);
    obs_sha256_update(h, file_id, strlen(file_id) + 1);
    obs_sha256_update(h, off, (size_t)n);
    obs_sha256_final_hex(h, out, 16);
}

struct prod_eid {
    EVP_MD *md;         /* SHA-256, fetched once */
    EVP_MD_CTX *prefix; /* state after the prefix */
    EVP_MD_CTX *work;   /* per-line copy */
    char key[8192];     /* the prefix bytes, to recognise a repeat */
    size_t keylen;      /* 0: no prefix yet */
};

struct prod_eid *prod_eid_new(void) {
    struct prod_eid *e = calloc(1, sizeof(*e));
    if (!e) return NULL;
    e->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    e->prefix = EVP_MD_CTX_new();
    e->work = EVP_MD_CTX_new();
    if (!e->md || !e->prefix || !e->work) {
        prod_eid_free(e);
        return NULL;
    }
    return e;
}

void prod_eid_free(struct prod_eid *e) {
    if (!e) return;
    EVP_MD_CTX_free(e->prefix);
    EVP_MD_CTX_free(e->work);
    EVP_MD_free(e->md);
    free(e);
}

int prod_eid_prefix(struct prod_eid *e, const char *tenant, const char *host, const char *source_path,
                    const char *file_id) {
    const char *parts[4] = {tenant, host, source_path, file_id};
    char key[sizeof(e->key)];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(parts[i]) + 1;
        if (n + l > sizeof(key)) return -1;
        memcpy(key + n, parts[i], l);
        n += l;
    }
    if (n == e->keylen && memcmp(key, e->key, n) == 0) return 0;
    e->keylen = 0;
    if (EVP_DigestInit_ex2(e->prefix, e->md, NULL) != 1 || EVP_DigestUpdate(e->prefix, key, n) != 1)
        return -1;
    memcpy(e->key, key, n);
    e->keylen = n;
    return 0;
}

int prod_eid_line(struct prod_eid *e, int64_t offset, char out[PROD_EVENT_ID_LEN]) {
    static const char hx[] = "0123456789abcdef";
    char off[24];
    int n = 0;
    uint64_t v = offset < 0 ? 0 - (uint64_t)offset : (uint64_t)offset;
    char tmp[24];
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    size_t ol = 0;
    if (offset < 0) off[ol++] = '-';
    while (n > 0)
        off[ol++] = tmp[--n];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!e->keylen || EVP_MD_CTX_copy_ex(e->work, e->prefix) != 1 ||
        EVP_DigestUpdate(e->work, off, ol) != 1 || EVP_DigestFinal_ex(e->work, md, &mdlen) != 1 || mdlen < 16)
        return -1;
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[32] = '\0';
    return 0;
}

enum prod_file_change prod_file_compare(uint64_t old_dev, uint64_t old_ino, const char *old_fp,
                                        uint64_t old_off, uint64_t dev, uint64_t ino, const char *fp,
                                        uint64_t size) {
    if (old_dev != dev || old_ino != ino) return PROD_FILE_REPLACED;
    if (size < old_off) return PROD_FILE_TRUNCATED;
    /* Same inode: a different first line means it was rewritten in place. */
    if (old_fp && *old_fp) {
        if (!fp || !*fp) return PROD_FILE_TRUNCATED; /* no complete first line any more */
        if (strcmp(old_fp, fp) != 0) return PROD_FILE_REPLACED;
    }
    return PROD_FILE_SAME;
}

const char *prod_file_change_name(enum prod_file_change c) {
    switch (c) {
    case PROD_FILE_SAME:
        return "same";
    case PROD_FILE_TRUNCATED:
        return "truncated";
    case PROD_FILE_REPLACED:
        return "replaced";
    }
    return "?";
}

int prod_expand_home(const char *path, char *out, size_t len) {
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        const char *home = getenv("HOME");
        if (!home || !*home) {
            struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : "/";
        }
        int n = snprintf(out, len, "%s%s", home, path + 1);
        return n < 0 || (size_t)n >= len ? -1 : 0;
    }
    int n = snprintf(out, len, "%s", path);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}
