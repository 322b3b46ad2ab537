/* prod_redact.c - secret redaction and the metadata-only mode (see
 * prod_redact.h and docs/adr/0012-producer-redaction.md). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "prod_redact.h"

#include "obs_log.h"
#include "obs_metrics.h"
#include "obs_util.h"

#include <jansson.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEED 7     /* literals per rule, NULL-terminated */
#define MAX_NEEDLES 32 /* literals over all rules (one bit each in the pair table) */
#define PAIR_BITS 12   /* pair table: 4096 x 32 bits = 16 KiB, stays in L1 */
/* Start of a token: not after a token character, except right after a JSON
 * escape (\n, \t, \u0027...), whose last character is a letter or digit. */
#define JIT_STACK_MAX (2 * 1024 * 1024) /* PCRE2's default, 32 KiB, failed PEM bodies over ~2 KB */
#define WARN_EVERY_S 10.0               /* at most one "rule could not be evaluated" warning per period */
#define LB "(?:(?<=\\\\[nrtbf])|(?<=\\\\u[0-9A-Fa-f]{4})|(?<![A-Za-z0-9_-]))"

struct rule {
    char name[65];              /* rule name, also the metric label */
    pcre2_code *code;           /* compiled pattern (owned) */
    int jit;                    /* 1: JIT compiled */
    const char *need[MAX_NEED]; /* run only when one of these literals is present (NULL: always) */
    int need_ci;                /* 1: the literals match ASCII case-insensitively */
    struct obs_metric *metric;  /* observatory_producer_redactions_total{rule=...} */
    struct obs_metric *errors;  /* observatory_producer_redaction_errors_total{rule=...} */
    int last;                   /* replacements in the last line */
};

struct buf {
    char *p;
    size_t len, cap;
};

struct prod_redact {
    int rules_enabled, metadata_only;
    struct rule *rules;
    size_t nrules, caprules;
    pcre2_match_data *md;
    pcre2_match_context *mc; /* carries the JIT stack */
    pcre2_jit_stack *js;     /* up to JIT_STACK_MAX */
    const char *last_error;  /* rule that could not be evaluated on the last line, or NULL */
    unsigned long errors;    /* lines that fell back (whole life) */
    unsigned long unwarned;  /* of which not yet logged */
    double warned_at;        /* obs_mono_s() of the last warning */
    struct buf b[2];         /* ping-pong output buffers */
    /* Literal pre-scan (one pass over the line for every rule's literals):
     * pairs[h(c0,c1)] has bit k set when needle k may start with c0 c1. */
    struct needle {
        const char *s; /* the literal */
        size_t len;    /* its length (>= 2) */
        int ci;        /* ASCII case-insensitive */
        unsigned rule; /* index of its rule (< 64) */
        size_t at;     /* indexed pairs: bytes at..at+2 */
    } needles[MAX_NEEDLES];
    size_t nneedles;
    uint32_t pairs[1u << PAIR_BITS];  /* either pair of a needle's window (the fast test) */
    uint32_t first[1u << PAIR_BITS];  /* the window's first pair (bytes at, at+1) */
    uint32_t second[1u << PAIR_BITS]; /* its second pair (bytes at+1, at+2) */
    char *meta;                       /* metadata-only output (owned) */
    size_t meta_len, meta_cap;
};

static void build_pairs(struct prod_redact *r);

/* Built-in rules, in the order they run. Character classes never include
 * '"' or '\\' (except the two-character escapes \n \r \t of a PEM body), so
 * a match cannot swallow a JSON string's closing quote or an escape. */
static const struct {
    const char *name;
    const char *pattern;
    const char *need[MAX_NEED]; /* literals, one of which every match contains */
    int need_ci;                /* the literals match case-insensitively ((?i) rules) */
} builtin[] = {
    /* The body is possessive (no backtracking state per character: the lazy
     * form overflowed PCRE2's JIT stack on bodies over ~2 KB, so a 4096-bit
     * key went out unredacted); it stops before an END line, or before the
     * first byte that cannot be in a body (truncated key). */
    {"pem_private_key",
     "-----BEGIN [A-Z ]*PRIVATE KEY-----"
     "(?:[A-Za-z0-9+/=:,. \\t\\r\\n]++|\\\\[nrt]|-(?!----END [A-Z ]*PRIVATE KEY-----))*+"
     "(?:-----END [A-Z ]*PRIVATE KEY-----|(?=\\\\(?![nrt])|[^A-Za-z0-9+/=:,. \\t\\r\\n\\\\-]|\\z))",
     {"PRIVATE KEY", NULL},
     0},
    {"auth_header",
     "(?i)authorization\\s*:\\s*(?:bearer|basic|token|digest)\\s+\\K(?!\\[REDACTED:)[A-Za-z0-9._~+/=-]+",
     {"authorization", NULL},
     1},
    {"auth_value",
     "(?i)\\\\?\"(?:authorization|proxy-authorization|x-api-key|api[_-]?key|password|passwd|client[_-]?"
     "secret)"
     "\\\\?\"\\s*:\\s*\\\\?\"\\K(?![^\"\\\\]*\\[REDACTED:)[^\"\\\\]+",
     /* The key's opening quote is part of every match: with it, prose about
      * "API keys" or "passwords" no longer runs the pattern (ADR 0014). */
     {"\"authorization", "\"proxy-auth", "\"x-api", "\"api", "\"passw", "\"client", NULL},
     1},
    {"url_password",
     "\\b[A-Za-z][A-Za-z0-9+.-]*://[^\\s:/@\"\\\\]+:\\K(?!\\[REDACTED:)[^\\s@/\"\\\\]+(?=@)",
     {"://", NULL},
     0},
    {"slack_webhook",
     "https://hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+",
     {"hooks.slack.com", NULL},
     0},
    {"jwt", LB "eyJ[A-Za-z0-9_-]{4,}\\.eyJ[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*", {"eyJ", NULL}, 0},
    {"aws_access_key", LB "(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])", {"AKIA", "ASIA", NULL}, 0},
    {"aws_secret_key",
     "(?i:aws_secret_access_key|aws_secret_key|secret_access_key)\\\\?\"?\\s*[:=]\\s*\\\\?\"?\\s*\\K"
     "[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
     {"secret", NULL},
     1},
    {"github_token",
     LB "(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
     {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", NULL},
     0},
    {"gitlab_token", LB "glpat-[A-Za-z0-9_-]{20,}", {"glpat-", NULL}, 0},
    {"slack_token", LB "xox[abprs]-[A-Za-z0-9-]{10,}", {"xox", NULL}, 0},
    {"anthropic_key", LB "sk-ant-[A-Za-z0-9_-]{20,}", {"sk-ant-", NULL}, 0},
    {"openai_key",
     LB "sk-(?!ant-)(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}",
     {"sk-", NULL},
     0},
};

static int add_rule(struct prod_redact *r, const char *name, size_t nlen, const char *pat, size_t plen,
                    const char *const *need, int need_ci, char *err, size_t errlen) {
    if (r->nrules == r->caprules) {
        size_t nc = r->caprules ? r->caprules * 2 : 16;
        struct rule *n = realloc(r->rules, nc * sizeof(*n));
        if (!n) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        r->rules = n;
        r->caprules = nc;
    }
    struct rule *ru = &r->rules[r->nrules];
    memset(ru, 0, sizeof(*ru));
    memcpy(ru->name, name, nlen);
    ru->name[nlen] = '\0';
    int ec;
    PCRE2_SIZE eoff;
    ru->code = pcre2_compile((PCRE2_SPTR)pat, plen, 0, &ec, &eoff, NULL);
    if (!ru->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        snprintf(err, errlen, "redaction rule '%s': pattern does not compile: %s at offset %zu", ru->name,
                 (const char *)msg, (size_t)eoff);
        return -1;
    }
    /* OBS_REDACT_JIT=0 runs PCRE2's interpreter, as under systemd's
     * MemoryDenyWriteExecute (tests use it to cover that path). */
    const char *jit_env = getenv("OBS_REDACT_JIT");
    ru->jit = !(jit_env && strcmp(jit_env, "0") == 0) && pcre2_jit_compile(ru->code, PCRE2_JIT_COMPLETE) == 0;
    for (int i = 0; need && i < MAX_NEED && need[i]; i++)
        ru->need[i] = need[i];
    ru->need_ci = need_ci;
    char labels[128];
    snprintf(labels, sizeof(labels), "rule=\"%s\"", ru->name);
    ru->metric = obs_metrics_counter("observatory_producer_redactions_total", labels,
                                     "secrets replaced by [REDACTED:<rule>], by rule");
    ru->errors = obs_metrics_counter("observatory_producer_redaction_errors_total", labels,
                                     "lines on which the rule hit a PCRE2 limit (published metadata-only)");
    r->nrules++;
    return 0;
}

/* Parse "name=pattern;name=pattern" ('\;' does not split). */
static int add_user_rules(struct prod_redact *r, const char *s, char *err, size_t errlen) {
    size_t i = 0, n = strlen(s);
    while (i < n) {
        size_t j = i, bs = 0;
        while (j < n && !(s[j] == ';' && bs % 2 == 0)) {
            bs = s[j] == '\\' ? bs + 1 : 0;
            j++;
        }
        size_t a = i, b = j;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
        if (a < b) {
            const char *eq = memchr(s + a, '=', b - a);
            size_t nlen = eq ? (size_t)(eq - (s + a)) : 0;
            while (nlen > 0 && (s[a + nlen - 1] == ' ' || s[a + nlen - 1] == '\t'))
                nlen--;
            int ok = eq && nlen > 0 && nlen <= 64;
            for (size_t k = 0; ok && k < nlen; k++) {
                char c = s[a + k];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
                    ok = 0;
            }
            const char *pat = eq ? eq + 1 : NULL;
            size_t plen = eq ? (size_t)(s + b - pat) : 0;
            while (plen > 0 && (*pat == ' ' || *pat == '\t')) {
                pat++;
                plen--;
            }
            if (!ok || plen == 0) {
                snprintf(err, errlen,
                         "redaction rule '%.*s': expected name=pattern with a name of 1-64 [A-Za-z0-9_] and "
                         "a non-empty pattern",
                         (int)(b - a > 60 ? 60 : b - a), s + a);
                return -1;
            }
            for (size_t k = 0; k < r->nrules; k++)
                if (strlen(r->rules[k].name) == nlen && memcmp(r->rules[k].name, s + a, nlen) == 0) {
                    snprintf(err, errlen, "redaction rule '%.*s': name already used", (int)nlen, s + a);
                    return -1;
                }
            if (add_rule(r, s + a, nlen, pat, plen, NULL, 0, err, errlen) < 0) return -1;
        }
        i = j + 1;
    }
    return 0;
}

struct prod_redact *prod_redact_create(int rules_enabled, int metadata_only, const char *user_rules,
                                       char *err, size_t errlen) {
    struct prod_redact *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->rules_enabled = rules_enabled;
    r->metadata_only = metadata_only;
    if (rules_enabled) {
        for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
            if (add_rule(r, builtin[i].name, strlen(builtin[i].name), builtin[i].pattern,
                         PCRE2_ZERO_TERMINATED, builtin[i].need, builtin[i].need_ci, err, errlen) < 0)
                goto fail;
        build_pairs(r);
        if (user_rules && add_user_rules(r, user_rules, err, errlen) < 0) goto fail;
    }
    r->md = pcre2_match_data_create(32, NULL);
    r->mc = pcre2_match_context_create(NULL);
    r->js = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
    if (r->mc && r->js) pcre2_jit_stack_assign(r->mc, NULL, r->js);
    if (!r->md || !r->mc) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return r;
fail:
    prod_redact_destroy(r);
    return NULL;
}

void prod_redact_destroy(struct prod_redact *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nrules; i++)
        pcre2_code_free(r->rules[i].code);
    free(r->rules);
    pcre2_match_data_free(r->md);
    pcre2_match_context_free(r->mc);
    pcre2_jit_stack_free(r->js);
    free(r->b[0].p);
    free(r->b[1].p);
    free(r->meta);
    free(r);
}

size_t prod_redact_nrules(const struct prod_redact *r) { return r->nrules; }
const char *prod_redact_rule_name(const struct prod_redact *r, size_t i) {
    return i < r->nrules ? r->rules[i].name : NULL;
}
int prod_redact_last_count(const struct prod_redact *r, const char *rule) {
    for (size_t i = 0; i < r->nrules; i++)
        if (strcmp(r->rules[i].name, rule) == 0) return r->rules[i].last;
    return -1;
}

static int buf_add(struct buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) return -1;
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* ---- metadata-only -------------------------------------------------------------- */

static json_t *blank_of(const json_t *v) {
    if (json_is_string(v)) return json_string("");
    if (json_is_object(v)) return json_object();
    if (json_is_array(v)) return json_array();
    return NULL; /* numbers, booleans, null: kept */
}

static void blank_key(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    json_t *n = v ? blank_of(v) : NULL;
    if (n) json_object_set_new(obj, key, n);
}

/* A message.content block: keep type/id/name/tool_use_id/is_error/caller,
 * empty every other string, object and array (tool_result content -> ""). */
static void strip_block(json_t *b) {
    static const char *keep[] = {"type", "id", "name", "tool_use_id", "is_error", "caller", NULL};
    const char *key;
    json_t *v;
    void *it = json_object_iter(b);
    while (it) {
        key = json_object_iter_key(it);
        v = json_object_iter_value(it);
        int kept = 0;
        for (int i = 0; keep[i]; i++)
            if (strcmp(key, keep[i]) == 0) kept = 1;
        if (!kept) {
            json_t *n = strcmp(key, "content") == 0 ? json_string("") : blank_of(v);
            if (n) json_object_iter_set_new(b, it, n);
        }
        it = json_object_iter_next(b, it);
    }
}

static void strip_line(json_t *root) {
    json_t *msg = json_object_get(root, "message");
    if (json_is_object(msg)) {
        json_t *c = json_object_get(msg, "content");
        if (json_is_array(c)) {
            size_t i;
            json_t *b;
            json_array_foreach(c, i, b) {
                if (json_is_object(b))
                    strip_block(b);
                else if (json_is_string(b))
                    json_array_set_new(c, i, json_string(""));
            }
        } else if (json_is_string(c) || json_is_object(c)) {
            json_object_set_new(msg, "content", json_string(""));
        }
    } else if (json_is_string(msg) || json_is_array(msg)) {
        json_object_set_new(root, "message", blank_of(msg));
    }
    static const char *drop[] = {"toolUseResult", "summary", "content", "snapshot", "data", "todos", NULL};
    for (int i = 0; drop[i]; i++)
        blank_key(root, drop[i]);
}

/* Sets r->meta to the metadata of line. */
static int metadata(struct prod_redact *r, const char *line, size_t len) {
    json_t *root = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
    char *s = NULL;
    char tmp[96];
    if (json_is_object(root)) {
        strip_line(root);
        s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(root);
    const char *src = s;
    if (!src) {
        snprintf(tmp, sizeof(tmp), "{\"type\":\"observatory-unparsable\",\"bytes\":%zu}", len);
        src = tmp;
    }
    size_t n = strlen(src);
    if (n + 1 > r->meta_cap) {
        char *p = realloc(r->meta, n + 1);
        if (!p) {
            free(s);
            return -1;
        }
        r->meta = p;
        r->meta_cap = n + 1;
    }
    memcpy(r->meta, src, n + 1);
    r->meta_len = n;
    free(s);
    return 0;
}

/* ---- rules ------------------------------------------------------------------------- */

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }
static unsigned char upper(unsigned char c) { return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c; }
static unsigned pair_hash(unsigned char c0, unsigned char c1) {
    return (((unsigned)c0 << 4) ^ c1) & ((1u << PAIR_BITS) - 1);
}

/* How common a byte is in transcripts (English text, JSON, paths): 3 very,
 * 2 somewhat, 1 rare. Used only to choose which pairs to index. */
static int common(unsigned char c) {
    if (c && strchr("etaoinsrhldcu \":,./", lower(c)) && !(c >= 'A' && c <= 'Z')) return 3;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 2;
    return 1;
}

/* Index every rule literal by (a hash of) two adjacent pairs of its bytes,
 * at and at+1 (the rarest such window), all case variants for a
 * case-insensitive rule, so scan_literals() need only look at every other
 * position. Only the first 64 rules (the built-ins) can have literals;
 * others always run. */
static void pair_set(uint32_t *t, unsigned char a, unsigned char b, int ci, uint32_t bit) {
    t[pair_hash(a, b)] |= bit;
    if (ci) {
        t[pair_hash(lower(a), lower(b))] |= bit;
        t[pair_hash(lower(a), upper(b))] |= bit;
        t[pair_hash(upper(a), lower(b))] |= bit;
        t[pair_hash(upper(a), upper(b))] |= bit;
    }
}

static void build_pairs(struct prod_redact *r) {
    memset(r->pairs, 0, sizeof(r->pairs));
    memset(r->first, 0, sizeof(r->first));
    memset(r->second, 0, sizeof(r->second));
    r->nneedles = 0;
    for (size_t i = 0; i < r->nrules && i < 64; i++)
        for (int j = 0; j < MAX_NEED && r->rules[i].need[j]; j++) {
            const char *lit = r->rules[i].need[j];
            if (r->nneedles == MAX_NEEDLES || strlen(lit) < 3) {
                r->rules[i].need[0] = NULL; /* cannot be indexed: run the rule on every line */
                break;
            }
            struct needle *n = &r->needles[r->nneedles];
            *n =
                (struct needle){.s = lit, .len = strlen(lit), .ci = r->rules[i].need_ci, .rule = (unsigned)i};
            const unsigned char *u = (const unsigned char *)lit;
            int best = 1 << 30;
            for (size_t a = 0; a + 2 < n->len; a++) {
                int score = common(u[a]) * common(u[a + 1]) + common(u[a + 1]) * common(u[a + 2]);
                if (score < best) best = score, n->at = a;
            }
            uint32_t bit = 1u << r->nneedles;
            pair_set(r->pairs, u[n->at], u[n->at + 1], n->ci, bit);
            pair_set(r->pairs, u[n->at + 1], u[n->at + 2], n->ci, bit);
            pair_set(r->first, u[n->at], u[n->at + 1], n->ci, bit);
            pair_set(r->second, u[n->at + 1], u[n->at + 2], n->ci, bit);
            r->nneedles++;
        }
}

static int lit_at(const struct needle *n, const unsigned char *s, size_t avail) {
    if (n->len > avail) return 0;
    if (!n->ci) return memcmp(s, n->s, n->len) == 0;
    for (size_t i = 0; i < n->len; i++)
        if (lower(s[i]) != lower((unsigned char)n->s[i])) return 0;
    return 1;
}

/* One pass over s: bit i set when rule i (< 64) has a literal in s. This
 * replaces one memmem per literal per line, which was half the producer's
 * instructions (docs/producer.md, "Performance"). Every literal has two
 * indexed pairs at adjacent offsets, one of which is even in s: looking
 * at the pairs at even offsets and checking a hit at i-at and i-at-1 finds
 * every occurrence. */
/* A pair of the fast table matched at even offset i: keep the needles whose
 * whole 3-byte window matches (window at i, or at i-1), then compare. */
static uint64_t check_hits(const struct prod_redact *r, const unsigned char *u, size_t len, size_t i,
                           uint64_t found) {
    unsigned h = pair_hash(u[i], u[i + 1]);
    uint32_t at_i = i + 2 < len ? r->first[h] & r->second[pair_hash(u[i + 1], u[i + 2])] : 0;
    uint32_t at_prev = i > 0 ? r->second[h] & r->first[pair_hash(u[i - 1], u[i])] : 0;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t m = pass ? at_prev : at_i;
        size_t w = pass ? i - 1 : i; /* where the window starts */
        while (m) {
            const struct needle *n = &r->needles[__builtin_ctz(m)];
            m &= m - 1;
            if (!(found >> n->rule & 1) && w >= n->at && lit_at(n, u + w - n->at, len - w + n->at))
                found |= 1ull << n->rule;
        }
    }
    return found;
}

static uint64_t scan_literals(const struct prod_redact *r, const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    const uint32_t *t = r->pairs;
    uint64_t found = 0;
    size_t i = 0;
    /* Eight bytes (four pairs) per turn; almost every turn finds nothing. */
    for (; i + 8 < len; i += 8) {
        uint32_t m0 = t[pair_hash(u[i], u[i + 1])], m1 = t[pair_hash(u[i + 2], u[i + 3])],
                 m2 = t[pair_hash(u[i + 4], u[i + 5])], m3 = t[pair_hash(u[i + 6], u[i + 7])];
        if (!(m0 | m1 | m2 | m3)) continue;
        if (m0) found = check_hits(r, u, len, i, found);
        if (m1) found = check_hits(r, u, len, i + 2, found);
        if (m2) found = check_hits(r, u, len, i + 4, found);
        if (m3) found = check_hits(r, u, len, i + 6, found);
    }
    for (; i + 1 < len; i += 2) {
        uint32_t m = t[pair_hash(u[i], u[i + 1])];
        if (m) found = check_hits(r, u, len, i, found);
    }
    return found;
}

static int needed(const struct rule *ru, size_t i, uint64_t found) {
    return !ru->need[0] || i >= 64 || (found >> i & 1);
}

/* Run one rule over s; when it matched, the result is in out and the count
 * is returned; 0: no match (out untouched); -1: out of memory; -2: PCRE2
 * gave up (match, depth, heap or JIT stack limit): the rule could not be
 * evaluated, so s may still hold its secret. */
static int apply(struct prod_redact *r, struct rule *ru, const char *s, size_t len, struct buf *out) {
    size_t start = 0, last = 0;
    int n = 0;
    while (start <= len) {
        int rc = ru->jit ? pcre2_jit_match(ru->code, (PCRE2_SPTR)s, len, start, 0, r->md, r->mc)
                         : pcre2_match(ru->code, (PCRE2_SPTR)s, len, start, 0, r->md, r->mc);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) return -2;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms || ms < last) { /* empty match or \K oddity: step on */
            start = (me > start ? me : start) + 1;
            continue;
        }
        if (n == 0) out->len = 0;
        char mark[96];
        int ml = snprintf(mark, sizeof(mark), "[REDACTED:%s]", ru->name);
        if (buf_add(out, s + last, ms - last) < 0 || buf_add(out, mark, (size_t)ml) < 0) return -1;
        n++;
        last = me;
        start = me;
    }
    if (n > 0 && buf_add(out, s + last, len - last) < 0) return -1;
    return n;
}

/* Every rule over cur, in order. Returns the replacements (result in
 * *out), -1 when out of memory, -2 when a rule could not be evaluated
 * (*bad: its index). ru->last holds each rule's count; metrics untouched. */
static int run_rules(struct prod_redact *r, const char *cur, size_t cur_len, const char **out,
                     size_t *out_len, size_t *bad) {
    int total = 0;
    for (size_t i = 0; i < r->nrules; i++)
        r->rules[i].last = 0;
    uint64_t found = r->nneedles ? scan_literals(r, cur, cur_len) : 0;
    for (size_t i = 0; i < r->nrules; i++) {
        struct rule *ru = &r->rules[i];
        if (!needed(ru, i, found)) continue;
        struct buf *o = (cur == r->b[0].p) ? &r->b[1] : &r->b[0];
        int n = apply(r, ru, cur, cur_len, o);
        if (n == -2) *bad = i;
        if (n < 0) return n;
        if (n > 0) {
            ru->last = n;
            total += n;
            cur = o->p;
            cur_len = o->len;
            /* The markers may complete a literal for a later rule: look again. */
            if (r->nneedles) found = scan_literals(r, cur, cur_len);
        }
    }
    *out = cur;
    *out_len = cur_len;
    return total;
}

/* A rule could not be evaluated on a line: count it and warn (at most once
 * per WARN_EVERY_S, with the number of lines since the last warning). */
static void note_error(struct prod_redact *r, size_t bad, size_t len, int fallback) {
    struct rule *ru = &r->rules[bad];
    obs_metric_inc(ru->errors);
    r->errors++;
    r->unwarned++;
    double now = obs_mono_s();
    if (r->warned_at == 0 || now - r->warned_at >= WARN_EVERY_S) {
        obs_warn(
            "redact",
            "rule %s hit a PCRE2 limit on a %zu-byte line: published %s (%lu line(s) so far, %lu since the "
            "last warning)",
            ru->name, len, fallback ? "its metadata only" : "an observatory-unredactable marker", r->errors,
            r->unwarned);
        r->unwarned = 0;
        r->warned_at = now;
    }
}

int prod_redact_line(struct prod_redact *r, const char *line, size_t len, const char **out, size_t *out_len) {
    const char *cur = line;
    size_t cur_len = len;
    r->last_error = NULL;
    if (r->metadata_only) {
        if (metadata(r, line, len) < 0) return -1;
        cur = r->meta;
        cur_len = r->meta_len;
    }
    size_t bad = 0;
    int total = run_rules(r, cur, cur_len, out, out_len, &bad);
    if (total == -2) {
        /* Fail closed: the line may hold a secret this rule would have
         * removed. Publish its metadata only (the rules run on that too). */
        size_t first_bad = bad;
        r->last_error = r->rules[bad].name;
        int fallback = !r->metadata_only && metadata(r, line, len) == 0;
        if (fallback) total = run_rules(r, r->meta, r->meta_len, out, out_len, &bad);
        if (!fallback || total == -2) { /* not even that: a marker with no content at all */
            char tmp[160];
            snprintf(tmp, sizeof(tmp),
                     "{\"type\":\"observatory-unredactable\",\"rule\":\"%s\",\"bytes\":%zu}", r->last_error,
                     len);
            size_t n = strlen(tmp);
            if (n + 1 > r->meta_cap) {
                char *p = realloc(r->meta, n + 1);
                if (!p) return -1;
                r->meta = p;
                r->meta_cap = n + 1;
            }
            memcpy(r->meta, tmp, n + 1);
            r->meta_len = n;
            *out = r->meta;
            *out_len = n;
            for (size_t i = 0; i < r->nrules; i++)
                r->rules[i].last = 0;
            total = 0;
            fallback = 0;
        }
        note_error(r, first_bad, len, fallback);
    }
    if (total < 0) return -1;
    for (size_t i = 0; i < r->nrules; i++)
        if (r->rules[i].last) obs_metric_add(r->rules[i].metric, (uint64_t)r->rules[i].last);
    return total;
}

const char *prod_redact_last_error(const struct prod_redact *r) { return r->last_error; }
