/* obs_log.h - one level-gated logging family for every Observatory program.
 *
 * Each call writes one JSON object per line on stderr:
 *   {"ts":"2026-11-22T05:30:00.123Z","level":"info","prog":"obs-worker",
 *    "ctx":"batch","msg":"committed 500 records"}
 * Thread-safe (one write(2) per line). Messages are formatted with printf
 * syntax and JSON-escaped. */
#ifndef OBS_LOG_H
#define OBS_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum obs_log_level { OBS_LOG_DEBUG = 0, OBS_LOG_INFO, OBS_LOG_WARN, OBS_LOG_ERROR };

/* Set the program name shown in every line (a static string, not copied). */
void obs_log_init(const char *prog);
/* Parse "debug|info|warn|error"; returns -1 on an unknown name. */
int obs_log_set_level_name(const char *name);
void obs_log_set_level(enum obs_log_level level);
enum obs_log_level obs_log_get_level(void);

void obs_log(enum obs_log_level level, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void obs_logv(enum obs_log_level level, const char *ctx, const char *fmt, va_list ap);

#define obs_debug(ctx, ...)                                                                                  \
    do {                                                                                                     \
        if (obs_log_get_level() <= OBS_LOG_DEBUG) obs_log(OBS_LOG_DEBUG, ctx, __VA_ARGS__);                  \
    } while (0)
#define obs_info(ctx, ...) obs_log(OBS_LOG_INFO, ctx, __VA_ARGS__)
#define obs_warn(ctx, ...) obs_log(OBS_LOG_WARN, ctx, __VA_ARGS__)
#define obs_error(ctx, ...) obs_log(OBS_LOG_ERROR, ctx, __VA_ARGS__)

/* Append s (len bytes) JSON-escaped (without quotes) to out, a buffer of
 * cap bytes holding *used bytes; truncates silently. Shared with callers
 * that build small JSON by hand. */
void obs_json_escape_into(char *out, size_t cap, size_t *used, const char *s, size_t len);

#endif
