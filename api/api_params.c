/* api_params.c - cursor, query-string, time and error-body helpers of
 * obs-api (see api_params.h). No I/O: every function here is unit tested. */
#include "api_params.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs_util.h"

/* ---- base64url -------------------------------------------------------------- */

static const char b64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t api_b64url_encode(const unsigned char *in, size_t n, char *out) {
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long api_b64url_decode(const char *in, unsigned char *out, size_t outlen) {
    size_t n = strlen(in), o = 0;
    if (n % 4 == 1) return -1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(in[i]);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outlen) return -1;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    /* Leftover bits must be zero, so every cursor has one spelling. */
    if (bits && (acc & ((1u << bits) - 1))) return -1;
    return (long)o;
}

/* ---- cursor ----------------------------------------------------------------- */

/* Checksum of a cursor payload: first 8 bytes of SHA-256 as hex. It is not a
 * secret (tenant filtering protects data); it makes edits detectable. */
static void cursor_sum(const char *payload, size_t len, char out[17]) {
    struct obs_sha256 *h = obs_sha256_new();
    obs_sha256_update(h, "observatory.cursor.v1", 22);
    obs_sha256_update(h, payload, len);
    obs_sha256_final_hex(h, out, 8);
}

int api_cursor_encode(const struct api_cursor *c, const char *kind, char *out, size_t outlen) {
    char payload[API_MAX_ID_LEN + 128];
    int n = snprintf(payload, sizeof(payload), "1|%s|%" PRId64 "|%s", kind, c->ts_us, c->id);
    if (n < 0 || (size_t)n >= sizeof(payload) - 18) return -1;
    char sum[17];
    cursor_sum(payload, (size_t)n, sum);
    payload[n++] = '|';
    memcpy(payload + n, sum, 16);
    n += 16;
    if ((size_t)(n + 2) / 3 * 4 + 1 > outlen || (size_t)(n + 2) / 3 * 4 > API_MAX_CURSOR_LEN) return -1;
    api_b64url_encode((const unsigned char *)payload, (size_t)n, out);
    return 0;
}

int api_cursor_decode(const char *text, const char *kind, struct api_cursor *c) {
    if (!text || !*text || strlen(text) > API_MAX_CURSOR_LEN) return -1;
    unsigned char buf[API_MAX_CURSOR_LEN];
    long n = api_b64url_decode(text, buf, sizeof(buf) - 1);
    if (n < 20) return -1;
    if (memchr(buf, '\0', (size_t)n)) return -1;
    buf[n] = '\0';
    char *p = (char *)buf;
    /* "1|kind|ts|id|sum": the sum is the last 16 characters. */
    char *bar = p + n - 17;
    if (*bar != '|') return -1;
    char sum[17];
    cursor_sum(p, (size_t)(bar - p), sum);
    if (memcmp(sum, bar + 1, 16) != 0) return -1;
    *bar = '\0';
    size_t kl = strlen(kind);
    if (strncmp(p, "1|", 2) != 0 || strncmp(p + 2, kind, kl) != 0 || p[2 + kl] != '|') return -1;
    p += 3 + kl;
    char *end;
    errno = 0;
    long long ts = strtoll(p, &end, 10);
    if (end == p || *end != '|' || errno) return -1;
    const char *id = end + 1;
    if (!*id || strlen(id) > API_MAX_ID_LEN) return -1;
    c->ts_us = ts;
    obs_strlcpy(c->id, id, sizeof(c->id));
    return 0;
}

/* ---- scalar parsing --------------------------------------------------------- */

int api_parse_time(const char *s, int64_t *ms) {
    if (!s) return -1;
    size_t n = strlen(s);
    if (n == 10) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        return obs_parse_iso8601_ms(buf, ms);
    }
    if (n < 20 || n > 40) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !strchr("-T:.Z+ ", s[i])) return -1;
    char buf[48];
    obs_strlcpy(buf, s, sizeof(buf));
    /* A form-encoded "+02:00" arrives as " 02:00": accept it as the offset. */
    char *sp = strchr(buf + 19, ' ');
    if (sp) *sp = '+';
    if (strchr(buf, ' ')) return -1;
    return obs_parse_iso8601_ms(buf, ms);
}

int api_parse_int_range(const char *s, long lo, long hi, long *out) {
    if (!s || !*s || strlen(s) > 12) return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !(p == s && *p == '-')) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Plain decimal: 1-12 digits, optionally '.' and 1-9 digits. */
static int is_decimal(const char *s) {
    size_t i = 0, d = 0;
    while (isdigit((unsigned char)s[i]))
        i++, d++;
    if (d == 0 || d > 12) return 0;
    if (s[i] == '\0') return 1;
    if (s[i++] != '.') return 0;
    d = 0;
    while (isdigit((unsigned char)s[i]))
        i++, d++;
    return d >= 1 && d <= 9 && s[i] == '\0';
}

/* Syntax of an IANA zone name ("UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires",
 * "Etc/GMT+5"); whether it exists is PostgreSQL's call. */
static int is_zone_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '/' || s[0] == '.' || strstr(s, "..")) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("/_+-", s[i])) return 0;
    return 1;
}

static int in_list(const char *v, const char *const *list) {
    for (; *list; list++)
        if (strcmp(v, *list) == 0) return 1;
    return 0;
}

/* ---- query string ----------------------------------------------------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode [s, s+n) into a new string; '+' is a space (form encoding).
 * NULL on a bad escape or an encoded NUL. */
static char *pct_decode(const char *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int a = i + 1 < n ? hexval(s[i + 1]) : -1;
            int b = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(a << 4 | b);
            i += 2;
            continue;
        }
        out[o++] = s[i] == '+' ? ' ' : s[i];
    }
    out[o] = '\0';
    return out;
}

static void set_err(struct api_param_err *err, const char *field, const char *fmt, const char *arg) {
    obs_strlcpy(err->field, field ? field : "", sizeof(err->field));
    snprintf(err->message, sizeof(err->message), fmt, arg ? arg : "");
    /* Names come from the client: keep the error body printable ASCII. */
    for (char *c = err->field; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
    for (char *c = err->message; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
}

int api_query_parse(const char *raw, struct api_query *q, struct api_param_err *err) {
    q->items = NULL;
    q->n = 0;
    if (!raw) return 0;
    const char *p = raw;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            char *k = pct_decode(p, klen);
            char *v = eq ? pct_decode(eq + 1, len - klen - 1) : strdup("");
            if (!k || !v || !*k) {
                int bad_key = !k || !*k;
                char kname[64] = "";
                if (k) obs_strlcpy(kname, k, sizeof(kname));
                free(k);
                free(v);
                if (bad_key)
                    set_err(err, "", "malformed query string", NULL);
                else
                    set_err(err, kname, "malformed percent-encoding in the value of '%s'", kname);
                return -1;
            }
            if (api_query_get(q, k)) {
                set_err(err, strlen(k) < 64 ? k : "", "parameter '%s' is given more than once", k);
                free(k);
                free(v);
                return -1;
            }
            struct api_qparam *ni = realloc(q->items, (q->n + 1) * sizeof(*ni));
            if (!ni) {
                free(k);
                free(v);
                set_err(err, "", "out of memory", NULL);
                return -1;
            }
            q->items = ni;
            q->items[q->n].key = k;
            q->items[q->n].value = v;
            q->n++;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return 0;
}

void api_query_free(struct api_query *q) {
    if (!q) return;
    for (size_t i = 0; i < q->n; i++) {
        free(q->items[i].key);
        free(q->items[i].value);
    }
    free(q->items);
    q->items = NULL;
    q->n = 0;
}

const char *api_query_get(const struct api_query *q, const char *key) {
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->items[i].key, key) == 0) return q->items[i].value;
    return NULL;
}

int api_query_check_allowed(const struct api_query *q, const char *const *allowed,
                            struct api_param_err *err) {
    for (size_t i = 0; i < q->n; i++) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, q->items[i].key) == 0) ok = 1;
        if (!ok) {
            char name[64];
            obs_strlcpy(name, q->items[i].key, sizeof(name));
            set_err(err, name, "unknown parameter '%s'", name);
            return -1;
        }
    }
    return 0;
}

int api_list_params_parse(const struct api_query *q, const char *cursor_kind, long def_limit, long max_limit,
                          struct api_list_params *lp, struct api_param_err *err) {
    memset(lp, 0, sizeof(*lp));
    lp->limit = def_limit;
    const char *v;
    if ((v = api_query_get(q, "since"))) {
        if (api_parse_time(v, &lp->since_ms) < 0) {
            set_err(err, "since", "since must be an ISO-8601 time such as 2025-08-24T04:16:32Z%s", NULL);
            return -1;
        }
        lp->has_since = 1;
    }
    if ((v = api_query_get(q, "until"))) {
        if (api_parse_time(v, &lp->until_ms) < 0) {
            set_err(err, "until", "until must be an ISO-8601 time such as 2025-08-24T04:16:32Z%s", NULL);
            return -1;
        }
        lp->has_until = 1;
    }
    if (lp->has_since && lp->has_until && lp->until_ms < lp->since_ms) {
        set_err(err, "until", "until must not be earlier than since%s", NULL);
        return -1;
    }
    if ((v = api_query_get(q, "project"))) {
        if (!*v || strlen(v) > 4096) {
            set_err(err, "project", "project must be a non-empty path of at most 4096 bytes%s", NULL);
            return -1;
        }
        lp->project = v;
    }
    if ((v = api_query_get(q, "limit"))) {
        if (api_parse_int_range(v, 1, max_limit, &lp->limit) < 0) {
            char msg[64];
            snprintf(msg, sizeof(msg), "%ld", max_limit);
            set_err(err, "limit", "limit must be an integer from 1 to %s", msg);
            return -1;
        }
    }
    if ((v = api_query_get(q, "sort"))) {
        if ((lp->sort = api_sort_parse(v)) < 0) {
            set_err(err, "sort", "sort must be one of start, end, cost, tokens, duration%s", NULL);
            return -1;
        }
        if (cursor_kind && strcmp(cursor_kind, "s") == 0) cursor_kind = api_sort_cursor_kind(lp->sort);
    }
    if ((v = api_query_get(q, "cursor"))) {
        if (!cursor_kind || api_cursor_decode(v, cursor_kind, &lp->cursor) < 0) {
            set_err(err, "cursor", "cursor is not valid for this list (use next_cursor as returned)%s", NULL);
            return -1;
        }
        lp->has_cursor = 1;
    }
    if ((v = api_query_get(q, "group_by"))) {
        if (strcmp(v, "day") && strcmp(v, "week") && strcmp(v, "project") && strcmp(v, "model") &&
            strcmp(v, "user") && strcmp(v, "host")) {
            set_err(err, "group_by", "group_by must be one of day, week, project, model, user, host%s", NULL);
            return -1;
        }
        lp->group_by = v;
    }
    static const struct {
        const char *name;
        size_t off;
    } texts[] = {{"user", offsetof(struct api_list_params, user)},
                 {"host", offsetof(struct api_list_params, host)},
                 {"model", offsetof(struct api_list_params, model)},
                 {"git_branch", offsetof(struct api_list_params, git_branch)}};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        if ((v = api_query_get(q, texts[i].name))) {
            if (!*v || strlen(v) > 1024) {
                set_err(err, texts[i].name, "%s must be non-empty and at most 1024 bytes", texts[i].name);
                return -1;
            }
            *(const char **)((char *)lp + texts[i].off) = v;
        }
    }
    if ((v = api_query_get(q, "min_cost"))) {
        if (!is_decimal(v)) {
            set_err(err, "min_cost", "min_cost must be a decimal number of USD such as 0.5%s", NULL);
            return -1;
        }
        lp->min_cost = v;
    }
    static const char *const bools[] = {"has_errors", "has_insights"};
    for (size_t i = 0; i < 2; i++) {
        if ((v = api_query_get(q, bools[i]))) {
            const char *b = !strcmp(v, "true") || !strcmp(v, "1")    ? "true"
                            : !strcmp(v, "false") || !strcmp(v, "0") ? "false"
                                                                     : NULL;
            if (!b) {
                set_err(err, bools[i], "%s must be true or false", bools[i]);
                return -1;
            }
            if (i == 0)
                lp->has_errors = b;
            else
                lp->has_insights = b;
        }
    }
    if ((v = api_query_get(q, "tz"))) {
        if (!is_zone_name(v)) {
            set_err(err, "tz", "tz must be an IANA time zone name such as Europe/Berlin%s", NULL);
            return -1;
        }
        lp->tz = v;
    }
    if ((v = api_query_get(q, "kind"))) {
        static const char *const kinds[] = {"cost_outlier",         "tool_error_loop",   "long_tool_call",
                                            "ended_with_api_error", "ended_interrupted", NULL};
        if (!in_list(v, kinds)) {
            set_err(
                err, "kind",
                "kind must be one of cost_outlier, tool_error_loop, long_tool_call, ended_with_api_error, "
                "ended_interrupted%s",
                NULL);
            return -1;
        }
        lp->kind = v;
    }
    if ((v = api_query_get(q, "severity"))) {
        static const char *const sev[] = {"info", "warning", "critical", NULL};
        if (!in_list(v, sev)) {
            set_err(err, "severity", "severity must be one of info, warning, critical%s", NULL);
            return -1;
        }
        lp->severity = v;
    }
    if ((v = api_query_get(q, "q"))) {
        size_t n = strlen(v), i = 0;
        while (i < n && isspace((unsigned char)v[i]))
            i++;
        if (i == n || n > 256) {
            set_err(err, "q", "q must be non-blank text of at most 256 bytes%s", NULL);
            return -1;
        }
        lp->q = v;
    }
    return 0;
}

int api_sort_parse(const char *v) {
    static const char *const names[API_SORT_N] = {"start", "end", "cost", "tokens", "duration"};
    for (int i = 0; v && i < API_SORT_N; i++)
        if (strcmp(v, names[i]) == 0) return i;
    return -1;
}

const char *api_sort_cursor_kind(int sort) {
    static const char *const kinds[API_SORT_N] = {"s", "se", "sc", "sk", "sd"};
    return sort >= 0 && sort < API_SORT_N ? kinds[sort] : "s";
}

/* ---- errors ----------------------------------------------------------------- */

char *api_error_json(const char *code, const char *message, const char *field) {
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message", json_string(message));
    if (field) json_object_set_new(e, "field", json_string(field));
    json_t *root = json_object();
    json_object_set_new(root, "error", e);
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}
