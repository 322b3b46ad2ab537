/* wrk_line.h - turning one transcript line (the Kafka payload) into the facts
 * the worker stores: the line's identity and kind, usage, text, tool_use and
 * tool_result blocks. Pure: no Kafka, no PostgreSQL, covered by unit tests.
 *
 * Sanitising: PostgreSQL text and jsonb reject NUL characters and invalid
 * UTF-8, so neither is a reason to reject a line. Invalid UTF-8 bytes are
 * replaced by U+FFFD before parsing; JSON `\u0000` escapes are parsed and the
 * resulting NULs become U+FFFD in every extracted string and in the raw jsonb
 * (which is then re-serialised from the sanitised tree). */
#ifndef WRK_LINE_H
#define WRK_LINE_H

#include <stddef.h>
#include <stdint.h>

/* Bounds that keep one row reasonable. */
#define WRK_TEXT_MAX (64 * 1024) /* text_content */
#define WRK_SUMMARY_MAX 512      /* tool_calls.input_summary */
#define WRK_EXCERPT_MAX 1024     /* tool_calls.error_excerpt */

/* One tool_use block of an assistant line. */
struct wrk_tool_use {
    char *id;      /* tool_use id ("toolu_..."), owned */
    char *name;    /* tool name, owned */
    char *summary; /* file_path / command / pattern / ..., owned, may be NULL */
    char *path;    /* input.file_path or input.notebook_path, owned, may be NULL */
};

/* One tool_result block of a user line. */
struct wrk_tool_result {
    char *tool_use_id; /* the tool_use it answers, owned */
    int is_error;      /* is_error == true */
    char *excerpt;     /* first WRK_EXCERPT_MAX bytes of an error's content, owned, may be NULL */
};

/* Usage snapshot of an assistant line (message.usage). */
struct wrk_usage {
    int64_t input;          /* input_tokens */
    int64_t output;         /* output_tokens */
    int64_t cache_creation; /* cache_creation_input_tokens (or 5m+1h when broken down) */
    int64_t cache_5m;       /* cache_creation.ephemeral_5m_input_tokens (or all creation when absent) */
    int64_t cache_1h;       /* cache_creation.ephemeral_1h_input_tokens */
    int64_t cache_read;     /* cache_read_input_tokens */
    int has_speed;          /* usage.speed present */
    int fast;               /* usage.speed == "fast" */
};

/* Everything extracted from one line. Strings are owned (malloc'd, valid
 * UTF-8 without NUL) or NULL when the field is absent. */
struct wrk_line {
    char *type;                      /* "user", "assistant", ...; "unknown" when absent */
    char *subtype;                   /* system subtype */
    char *uuid;                      /* line uuid */
    char *parent_uuid;               /* parentUuid */
    int is_sidechain;                /* isSidechain == true */
    char *agent_id;                  /* agentId */
    char *timestamp;                 /* raw timestamp string */
    int64_t time_ms;                 /* parsed timestamp; INT64_MIN when absent or bad */
    char *message_id;                /* message.id */
    char *request_id;                /* requestId */
    char *model;                     /* message.model */
    char *cwd;                       /* cwd */
    char *git_branch;                /* gitBranch */
    char *version;                   /* version (agent) */
    char *session_id;                /* sessionId / session_id in the line */
    char *summary;                   /* summary lines: the title */
    int is_error;                    /* isApiErrorMessage, or a tool_result with is_error */
    int is_api_error;                /* isApiErrorMessage == true */
    int is_meta;                     /* isMeta == true (harness-injected user line) */
    int has_usage;                   /* message.usage is an object with input/output tokens */
    struct wrk_usage usage;          /* valid when has_usage */
    int usage_countable;             /* ccusage 20 would count this line (see wrk_line_parse) */
    char *text;                      /* user string content or text blocks, <= WRK_TEXT_MAX bytes */
    struct wrk_tool_use *uses;       /* tool_use blocks */
    size_t nuses;                    /* how many */
    struct wrk_tool_result *results; /* tool_result blocks */
    size_t nresults;                 /* how many */
    char *raw_json;                  /* the line as JSON text for jsonb (sanitised) */
    int repaired;                    /* invalid UTF-8 or NULs were replaced */
};

/* Replace invalid UTF-8 sequences in s (len bytes) by U+FFFD and NUL bytes
 * by U+FFFD. Returns a malloc'd NUL-terminated string (caller frees) and its
 * length in *outlen; *changed (may be NULL) is set to 1 when anything was
 * replaced. NULL only when out of memory. */
char *wrk_sanitize_utf8(const char *s, size_t len, size_t *outlen, int *changed);

/* Copy at most max bytes of s without splitting a UTF-8 sequence. */
char *wrk_strndup_utf8(const char *s, size_t len, size_t max);

/* Parse one payload. Returns 0 and fills ln (caller calls wrk_line_free),
 * or -1 with a reason in errstr when the payload is not a JSON object (the
 * record is poison). ln is zeroed first either way. */
int wrk_line_parse(const void *payload, size_t len, struct wrk_line *ln, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

/* What one stored line adds to its session's counters (sessions columns). */
struct wrk_line_counts {
    int user_message; /* a user line that is not a tool result, not isMeta, not a
                       * sidechain (sub-agent prompt), not an interruption marker */
    int tool_calls;   /* tool_use blocks */
    int tool_errors;  /* tool_result blocks with is_error */
    int api_error;    /* isApiErrorMessage line */
    int interruption; /* user text starting "[Request interrupted by user" */
};
void wrk_line_count(const struct wrk_line *ln, struct wrk_line_counts *c);

/* session_files action of a tool: "read" (Read), "edit" (Edit, MultiEdit,
 * NotebookEdit), "write" (Write), NULL for other tools. */
const char *wrk_file_action(const char *tool_name);

/* Free everything ln owns; accepts a zeroed or half-filled ln. */
void wrk_line_free(struct wrk_line *ln);

#endif
