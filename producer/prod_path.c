/* prod_path.c - session id, globs, fingerprint, event id and change
 * detection for the producer; see prod_path.h. */
#include "prod_path.h"

#include "obs_util.h"

#include <fnmatch.h>
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
