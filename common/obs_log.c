/* obs_log.c - JSON-lines logger on stderr, see obs_log.h. */
#include "obs_log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "observatory";
static _Atomic int log_level = OBS_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void obs_log_init(const char *prog) { log_prog = prog; }

void obs_log_set_level(enum obs_log_level level) { atomic_store(&log_level, (int)level); }

enum obs_log_level obs_log_get_level(void) { return (enum obs_log_level)atomic_load(&log_level); }

int obs_log_set_level_name(const char *name) {
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            obs_log_set_level((enum obs_log_level)i);
            return 0;
        }
    }
    return -1;
}

void obs_json_escape_into(char *out, size_t cap, size_t *used, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    size_t u = *used;
    for (size_t i = 0; i < len && u + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[u++] = '\\';
            out[u++] = (char)c;
        } else if (c == '\n') {
            out[u++] = '\\';
            out[u++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(out + u, "\\u00", 4);
            u += 4;
            out[u++] = hex[c >> 4];
            out[u++] = hex[c & 15];
        } else {
            out[u++] = (char)c;
        }
    }
    *used = u;
}

static void append(char *out, size_t cap, size_t *used, const char *s) {
    size_t n = strlen(s);
    if (*used + n >= cap) n = cap - *used - 1;
    memcpy(out + *used, s, n);
    *used += n;
}

void obs_logv(enum obs_log_level level, const char *ctx, const char *fmt, va_list ap) {
    if ((int)level < atomic_load(&log_level)) return;
    char msg[4096];
    vsnprintf(msg, sizeof(msg), fmt, ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03ldZ", (long)(tv.tv_usec / 1000));

    char line[8192];
    size_t used = 0;
    append(line, sizeof(line), &used, "{\"ts\":\"");
    append(line, sizeof(line), &used, ts);
    append(line, sizeof(line), &used, "\",\"level\":\"");
    append(line, sizeof(line), &used, level_names[level]);
    append(line, sizeof(line), &used, "\",\"prog\":\"");
    append(line, sizeof(line), &used, log_prog);
    append(line, sizeof(line), &used, "\",\"ctx\":\"");
    obs_json_escape_into(line, sizeof(line) - 4, &used, ctx ? ctx : "", ctx ? strlen(ctx) : 0);
    append(line, sizeof(line), &used, "\",\"msg\":\"");
    obs_json_escape_into(line, sizeof(line) - 4, &used, msg, strlen(msg));
    append(line, sizeof(line), &used, "\"}\n");
    ssize_t w = write(STDERR_FILENO, line, used);
    (void)w;
}

void obs_log(enum obs_log_level level, const char *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    obs_logv(level, ctx, fmt, ap);
    va_end(ap);
}
