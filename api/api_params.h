/* api_params.h - request input handling for obs-api that needs no network
 * and no database: the keyset cursor, query-string validation, time
 * parsing and the JSON error body. Everything here is pure and is covered
 * by tests/unit/api/test_params.c. */
#ifndef API_PARAMS_H
#define API_PARAMS_H

#include <stddef.h>
#include <stdint.h>

/* Longest session id the API accepts (path segment or cursor). */
#define API_MAX_ID_LEN 256
/* Longest cursor string accepted (base64url text). */
#define API_MAX_CURSOR_LEN 512

/* Keyset position: the last row of a page. */
struct api_cursor {
    int64_t ts_us;               /* sort time, microseconds since the epoch */
    char id[API_MAX_ID_LEN + 1]; /* tie-breaker (session id, event id ...) */
};

/* Encode c as opaque base64url text (no padding) into out (>= API_MAX_CURSOR_LEN+1
 * bytes). kind namespaces the cursor ("s" sessions, "e" events, ...), so a
 * cursor of one list is rejected by another. Returns 0, -1 if out is too small. */
int api_cursor_encode(const struct api_cursor *c, const char *kind, char *out, size_t outlen)
    __attribute__((warn_unused_result));
/* Decode text made by api_cursor_encode with the same kind; -1 when it is
 * malformed, of another kind, or its checksum does not match (tampered). */
int api_cursor_decode(const char *text, const char *kind, struct api_cursor *c)
    __attribute__((warn_unused_result));

/* base64url without padding. enc: out needs 4*ceil(n/3)+1 bytes; returns
 * the length. dec: returns the decoded length or -1 on a bad character,
 * bad length or overflow of outlen. */
size_t api_b64url_encode(const unsigned char *in, size_t n, char *out);
long api_b64url_decode(const char *in, unsigned char *out, size_t outlen);

/* Parse a time parameter: ISO-8601 "2025-08-24T04:16:32.053Z" (fraction
 * optional, "Z" or +hh:mm offset) or a date "2025-08-24" (midnight UTC).
 * Returns 0 with milliseconds since the epoch, -1 when malformed. */
int api_parse_time(const char *s, int64_t *ms) __attribute__((warn_unused_result));

/* Parse a decimal integer in [lo, hi]; -1 when not a plain number or out of range. */
int api_parse_int_range(const char *s, long lo, long hi, long *out) __attribute__((warn_unused_result));

/* One query parameter after percent-decoding. */
struct api_qparam {
    char *key;   /* decoded name, owned */
    char *value; /* decoded value, owned */
};
/* The parameters of one request. */
struct api_query {
    struct api_qparam *items; /* n entries, owned */
    size_t n;                 /* count */
};

/* Validation failure: which parameter and why. */
struct api_param_err {
    char field[64];    /* parameter name ("" for the query string itself) */
    char message[256]; /* one sentence for the client */
};

/* Split a raw query string (may be NULL or "") into decoded pairs. -1 with
 * err filled when it is malformed (bad percent-escape, NUL byte, a name
 * repeated). q must be freed with api_query_free even on failure. */
int api_query_parse(const char *raw, struct api_query *q, struct api_param_err *err)
    __attribute__((warn_unused_result));
void api_query_free(struct api_query *q);
/* Value of key or NULL. */
const char *api_query_get(const struct api_query *q, const char *key);
/* -1 with err filled when q has a name not in allowed (NULL-terminated). */
int api_query_check_allowed(const struct api_query *q, const char *const *allowed, struct api_param_err *err)
    __attribute__((warn_unused_result));

/* Parsed filters of a list route (sessions, events, usage ...). */
struct api_list_params {
    int has_since, has_until; /* whether since/until were given */
    int64_t since_ms;         /* inclusive lower bound */
    int64_t until_ms;         /* exclusive upper bound */
    const char *project;      /* exact project or NULL (borrowed from the query) */
    long limit;               /* 1..500 */
    int has_cursor;           /* whether a cursor was given */
    struct api_cursor cursor; /* decoded cursor */
    const char *group_by;     /* usage: day|week|project|model|user|host (borrowed) */
    /* Further filters; NULL when absent (all borrowed from the query). */
    const char *user;         /* exact sessions.os_user */
    const char *host;         /* exact host */
    const char *model;        /* a model the session used */
    const char *git_branch;   /* exact git branch */
    const char *min_cost;     /* decimal USD, validated */
    const char *has_errors;   /* "true" | "false" */
    const char *has_insights; /* "true" | "false" */
    const char *tz;           /* IANA zone name, syntax checked (PostgreSQL resolves it) */
    const char *kind;         /* insights kind */
    const char *severity;     /* insights severity */
    const char *q;            /* search text */
    int sort;                 /* enum api_sort; API_SORT_START when absent */
};

/* Sort orders of the session list, each with its own cursor kind. */
enum api_sort { API_SORT_START, API_SORT_END, API_SORT_COST, API_SORT_TOKENS, API_SORT_DURATION, API_SORT_N };
/* Parse a sort name (start|end|cost|tokens|duration); -1 when unknown. */
int api_sort_parse(const char *v);
/* Cursor kind of a sort ("s", "se", "sc", "sk", "sd"): a cursor of one sort
 * is rejected by another. */
const char *api_sort_cursor_kind(int sort);

/* Validate the generic list parameters present in q: since, until, project,
 * limit (1..max_limit, default def_limit), cursor (of kind), group_by,
 * user, host, model, git_branch, min_cost, has_errors, has_insights, sort,
 * tz, kind, severity, q. When sort is present and cursor_kind is "s", the
 * cursor must be of the sort's own kind instead.
 * Unknown names must be checked beforehand with api_query_check_allowed.
 * -1 with err filled on the first bad one. */
int api_list_params_parse(const struct api_query *q, const char *cursor_kind, long def_limit, long max_limit,
                          struct api_list_params *lp, struct api_param_err *err)
    __attribute__((warn_unused_result));

/* Build the JSON error body {"error":{"code":..,"message":..[,"field":..]}}.
 * field may be NULL (then omitted). Returns a malloc'd string the caller
 * frees, NULL on allocation failure. */
char *api_error_json(const char *code, const char *message, const char *field);

#endif
