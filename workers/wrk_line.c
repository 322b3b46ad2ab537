/* wrk_line.c - parse and sanitise one transcript line; see wrk_line.h. */
#include "wrk_line.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs_util.h"

static const char REPL[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid.
 * NUL counts as invalid here so that it is replaced too. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c == 0) return 0;
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}

char *wrk_sanitize_utf8(const char *s, size_t len, size_t *outlen, int *changed) {
    const unsigned char *u = (const unsigned char *)s;
    char *out = malloc(len * 3 + 1); /* worst case: every byte becomes U+FFFD */
    if (!out) return NULL;
    size_t o = 0;
    int ch = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(u + i, len - i);
        if (k == 0) {
            memcpy(out + o, REPL, 3);
            o += 3;
            i++;
            ch = 1;
        } else {
            memcpy(out + o, u + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
    if (outlen) *outlen = o;
    if (changed) *changed = ch;
    return out;
}

char *wrk_strndup_utf8(const char *s, size_t len, size_t max) {
    if (len > max) {
        len = max;
        /* step back over continuation bytes so no sequence is split */
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    char *d = malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

/* ---- jansson helpers ---------------------------------------------------- */

/* A sanitised copy of a JSON string (NUL -> U+FFFD), bounded by max; NULL
 * when j is not a string. */
static char *jstr_max(const json_t *j, size_t max) {
    if (!json_is_string(j)) return NULL;
    size_t n;
    char *s = wrk_sanitize_utf8(json_string_value(j), json_string_length(j), &n, NULL);
    if (!s || n <= max) return s;
    char *t = wrk_strndup_utf8(s, n, max);
    free(s);
    return t;
}
static char *jstr(const json_t *j) { return jstr_max(j, (size_t)-1 / 4); }

/* Replace NULs in every string of the tree; returns how many strings changed. */
static int scrub_nul(json_t *j) {
    int n = 0;
    if (json_is_string(j)) {
        size_t len = json_string_length(j);
        if (memchr(json_string_value(j), '\0', len)) {
            size_t ol;
            char *s = wrk_sanitize_utf8(json_string_value(j), len, &ol, NULL);
            if (s) json_string_setn(j, s, ol);
            free(s);
            n++;
        }
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) n += scrub_nul(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) n += scrub_nul(v);
    }
    return n;
}

/* ccusage 20's has_unsupported_null_field: a null on one of these keys,
 * anywhere in the line, makes it skip the line. */
static int has_rejected_null(const json_t *j) {
    static const char *const keys[] = {"id",
                                       "cwd",
                                       "model",
                                       "speed",
                                       "costUSD",
                                       "version",
                                       "sessionId",
                                       "requestId",
                                       "isApiErrorMessage",
                                       "cache_read_input_tokens",
                                       "cache_creation_input_tokens",
                                       NULL};
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            if (json_is_null(v))
                for (int i = 0; keys[i]; i++)
                    if (strcmp(k, keys[i]) == 0) return 1;
            if (has_rejected_null(v)) return 1;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach((json_t *)j, i, v) if (has_rejected_null(v)) return 1;
    }
    return 0;
}

/* Non-negative integer field; -1 when absent (dflt_ok) or -2 when invalid. */
static int64_t juint(const json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!v) return -1;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -2;
    return (int64_t)json_integer_value(v);
}

/* Append len bytes to a growing buffer capped at WRK_TEXT_MAX. */
struct tbuf {
    char *p;    /* buffer, owned */
    size_t n;   /* bytes used */
    size_t cap; /* bytes allocated */
};
static void tbuf_add(struct tbuf *b, const char *s, size_t len) {
    if (b->n >= WRK_TEXT_MAX) return;
    if (b->n + len + 2 > b->cap) {
        size_t nc = b->n + len + 2;
        if (nc > WRK_TEXT_MAX + 2) nc = WRK_TEXT_MAX + 2;
        char *np = realloc(b->p, nc);
        if (!np) return;
        b->p = np;
        b->cap = nc;
    }
    if (b->n + len > WRK_TEXT_MAX) len = WRK_TEXT_MAX - b->n;
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

/* Text of a tool_result content: a string or an array of text blocks. */
static char *content_text(const json_t *c, size_t max) {
    if (json_is_string(c)) return jstr_max(c, max);
    if (!json_is_array(c)) return NULL;
    struct tbuf b = {0};
    size_t i;
    json_t *blk;
    json_array_foreach((json_t *)c, i, blk) {
        json_t *t = json_object_get(blk, "text");
        if (!json_is_string(t)) continue;
        if (b.n) tbuf_add(&b, "\n", 1);
        tbuf_add(&b, json_string_value(t), json_string_length(t));
    }
    if (!b.p) return NULL;
    size_t ol;
    char *clean = wrk_sanitize_utf8(b.p, b.n, &ol, NULL);
    free(b.p);
    if (clean && ol > max) {
        char *t = wrk_strndup_utf8(clean, ol, max);
        free(clean);
        clean = t;
    }
    return clean;
}

/* The most telling input field of a tool call. */
static char *input_summary(const json_t *input) {
    static const char *const keys[] = {"file_path", "notebook_path", "command",     "pattern", "path",
                                       "url",       "query",         "description", "prompt",  NULL};
    if (!json_is_object(input)) return NULL;
    for (int i = 0; keys[i]; i++) {
        json_t *v = json_object_get(input, keys[i]);
        if (json_is_string(v)) return jstr_max(v, WRK_SUMMARY_MAX);
    }
    return NULL;
}

static int version_ok(const char *v) {
    /* ^\d+\.\d+\.\d */
    const char *p = v;
    for (int part = 0; part < 3; part++) {
        if (*p < '0' || *p > '9') return 0;
        if (part == 2) return 1;
        while (*p >= '0' && *p <= '9')
            p++;
        if (*p++ != '.') return 0;
    }
    return 1;
}

/* ---- the line ------------------------------------------------------------ */

static void parse_usage(const json_t *u, struct wrk_line *ln, int *valid) {
    int64_t in = juint(u, "input_tokens"), out = juint(u, "output_tokens");
    int64_t cc = juint(u, "cache_creation_input_tokens"), cr = juint(u, "cache_read_input_tokens");
    *valid = in >= 0 && out >= 0 && cc != -2 && cr != -2;
    if (in < 0 || out < 0) return;
    ln->has_usage = 1;
    struct wrk_usage *us = &ln->usage;
    us->input = in;
    us->output = out;
    us->cache_read = cr > 0 ? cr : 0;
    json_t *bd = json_object_get(u, "cache_creation");
    if (json_is_object(bd)) {
        int64_t c5 = juint(bd, "ephemeral_5m_input_tokens"), c1 = juint(bd, "ephemeral_1h_input_tokens");
        if (c5 == -2 || c1 == -2) *valid = 0;
        us->cache_5m = c5 > 0 ? c5 : 0;
        us->cache_1h = c1 > 0 ? c1 : 0;
    } else {
        us->cache_5m = cc > 0 ? cc : 0;
        us->cache_1h = 0;
    }
    us->cache_creation = us->cache_5m + us->cache_1h;
    json_t *sp = json_object_get(u, "speed");
    us->has_speed = sp != NULL && !json_is_null(sp);
    us->fast = json_is_string(sp) && strcmp(json_string_value(sp), "fast") == 0;
}

static void parse_content(const json_t *msg, struct wrk_line *ln) {
    json_t *c = json_object_get(msg, "content");
    struct tbuf b = {0};
    if (json_is_string(c)) {
        tbuf_add(&b, json_string_value(c), json_string_length(c));
    } else if (json_is_array(c)) {
        size_t i, nu = 0, nr = 0;
        json_t *blk;
        json_array_foreach(c, i, blk) {
            const char *t = json_string_value(json_object_get(blk, "type"));
            if (t && strcmp(t, "tool_use") == 0)
                nu++;
            else if (t && strcmp(t, "tool_result") == 0)
                nr++;
        }
        ln->uses = nu ? calloc(nu, sizeof(*ln->uses)) : NULL;
        ln->results = nr ? calloc(nr, sizeof(*ln->results)) : NULL;
        json_array_foreach(c, i, blk) {
            const char *t = json_string_value(json_object_get(blk, "type"));
            if (!t) continue;
            if (strcmp(t, "text") == 0) {
                json_t *tx = json_object_get(blk, "text");
                if (!json_is_string(tx)) continue;
                if (b.n) tbuf_add(&b, "\n", 1);
                tbuf_add(&b, json_string_value(tx), json_string_length(tx));
            } else if (strcmp(t, "tool_use") == 0 && ln->uses) {
                char *id = jstr(json_object_get(blk, "id"));
                if (!id) continue;
                struct wrk_tool_use *tu = &ln->uses[ln->nuses++];
                tu->id = id;
                tu->name = jstr(json_object_get(blk, "name"));
                if (!tu->name) tu->name = strdup("unknown");
                json_t *input = json_object_get(blk, "input");
                tu->summary = input_summary(input);
                tu->path = jstr_max(json_object_get(input, "file_path"), WRK_SUMMARY_MAX);
                if (!tu->path) tu->path = jstr_max(json_object_get(input, "notebook_path"), WRK_SUMMARY_MAX);
            } else if (strcmp(t, "tool_result") == 0 && ln->results) {
                char *id = jstr(json_object_get(blk, "tool_use_id"));
                if (!id) continue;
                struct wrk_tool_result *tr = &ln->results[ln->nresults++];
                tr->tool_use_id = id;
                tr->is_error = json_is_true(json_object_get(blk, "is_error"));
                if (tr->is_error) {
                    tr->excerpt = content_text(json_object_get(blk, "content"), WRK_EXCERPT_MAX);
                    ln->is_error = 1;
                }
            }
        }
    }
    if (b.p) {
        ln->text = wrk_sanitize_utf8(b.p, b.n, NULL, NULL);
        free(b.p);
    }
}

int wrk_line_parse(const void *payload, size_t len, struct wrk_line *ln, char *errstr, size_t errlen) {
    memset(ln, 0, sizeof(*ln));
    ln->time_ms = INT64_MIN;
    size_t clen;
    int bad_utf8 = 0;
    char *clean = wrk_sanitize_utf8(payload, len, &clen, &bad_utf8);
    if (!clean) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(clean, clen, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        snprintf(errstr, errlen, "payload is not JSON: %s at %d:%d", jerr.text, jerr.line, jerr.column);
        free(clean);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(errstr, errlen, "payload is not a JSON object");
        json_decref(root);
        free(clean);
        return -1;
    }
    ln->type = jstr(json_object_get(root, "type"));
    if (!ln->type) ln->type = strdup("unknown");
    ln->subtype = jstr(json_object_get(root, "subtype"));
    ln->uuid = jstr(json_object_get(root, "uuid"));
    ln->parent_uuid = jstr(json_object_get(root, "parentUuid"));
    ln->is_sidechain = json_is_true(json_object_get(root, "isSidechain"));
    ln->agent_id = jstr(json_object_get(root, "agentId"));
    ln->timestamp = jstr(json_object_get(root, "timestamp"));
    int64_t ms;
    if (ln->timestamp && obs_parse_iso8601_ms(ln->timestamp, &ms) == 0) ln->time_ms = ms;
    ln->request_id = jstr(json_object_get(root, "requestId"));
    ln->cwd = jstr(json_object_get(root, "cwd"));
    ln->git_branch = jstr(json_object_get(root, "gitBranch"));
    ln->version = jstr(json_object_get(root, "version"));
    ln->session_id = jstr(json_object_get(root, "sessionId"));
    if (!ln->session_id) ln->session_id = jstr(json_object_get(root, "session_id"));
    if (strcmp(ln->type, "summary") == 0) ln->summary = jstr_max(json_object_get(root, "summary"), 1024);
    ln->is_api_error = json_is_true(json_object_get(root, "isApiErrorMessage"));
    ln->is_error = ln->is_api_error;
    ln->is_meta = json_is_true(json_object_get(root, "isMeta"));

    json_t *msg = json_object_get(root, "message");
    int usage_valid = 0;
    if (json_is_object(msg)) {
        ln->message_id = jstr(json_object_get(msg, "id"));
        ln->model = jstr(json_object_get(msg, "model"));
        json_t *u = json_object_get(msg, "usage");
        if (json_is_object(u)) parse_usage(u, ln, &usage_valid);
        parse_content(msg, ln);
    }

    /* ccusage 20's filter (TRANSCRIPT-FORMAT.md 4.1): the raw marker, no
     * rejected null, valid usage and timestamp, plausible ids, and a line
     * that was valid UTF-8 to begin with. */
    ln->usage_countable = ln->has_usage && usage_valid && !bad_utf8 &&
                          memmem(payload, len, "\"usage\":{", 9) != NULL && !has_rejected_null(root) &&
                          ln->time_ms != INT64_MIN && (!ln->version || version_ok(ln->version)) &&
                          !(ln->session_id && !*ln->session_id) && !(ln->request_id && !*ln->request_id) &&
                          !(ln->message_id && !*ln->message_id) && !(ln->model && !*ln->model);

    int scrubbed = scrub_nul(root);
    if (scrubbed) {
        ln->raw_json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        free(clean);
    } else {
        ln->raw_json = clean;
    }
    ln->repaired = bad_utf8 || scrubbed;
    json_decref(root);
    if (!ln->raw_json) {
        snprintf(errstr, errlen, "out of memory");
        wrk_line_free(ln);
        return -1;
    }
    return 0;
}

void wrk_line_count(const struct wrk_line *ln, struct wrk_line_counts *c) {
    static const char INTR[] = "[Request interrupted by user";
    memset(c, 0, sizeof(*c));
    c->tool_calls = (int)ln->nuses;
    for (size_t i = 0; i < ln->nresults; i++)
        c->tool_errors += ln->results[i].is_error != 0;
    c->api_error = ln->is_api_error != 0;
    if (!ln->type || strcmp(ln->type, "user") != 0) return;
    if (ln->text && strncmp(ln->text, INTR, sizeof(INTR) - 1) == 0) {
        c->interruption = 1;
        return;
    }
    c->user_message = ln->nresults == 0 && !ln->is_meta && !ln->is_sidechain;
}

const char *wrk_file_action(const char *tool_name) {
    if (!tool_name) return NULL;
    if (strcmp(tool_name, "Read") == 0) return "read";
    if (strcmp(tool_name, "Write") == 0) return "write";
    if (strcmp(tool_name, "Edit") == 0 || strcmp(tool_name, "MultiEdit") == 0 ||
        strcmp(tool_name, "NotebookEdit") == 0)
        return "edit";
    return NULL;
}

void wrk_line_free(struct wrk_line *ln) {
    if (!ln) return;
    char **strs[] = {&ln->type,       &ln->subtype,   &ln->uuid,       &ln->parent_uuid,
                     &ln->agent_id,   &ln->timestamp, &ln->message_id, &ln->request_id,
                     &ln->model,      &ln->cwd,       &ln->git_branch, &ln->version,
                     &ln->session_id, &ln->summary,   &ln->text,       &ln->raw_json};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < ln->nuses; i++) {
        free(ln->uses[i].id);
        free(ln->uses[i].name);
        free(ln->uses[i].summary);
        free(ln->uses[i].path);
    }
    free(ln->uses);
    for (size_t i = 0; i < ln->nresults; i++) {
        free(ln->results[i].tool_use_id);
        free(ln->results[i].excerpt);
    }
    free(ln->results);
    ln->uses = NULL;
    ln->results = NULL;
    ln->nuses = ln->nresults = 0;
}
