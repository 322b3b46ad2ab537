/* obs_util.h - small helpers every program needs: hashing, time, strings. */
#ifndef OBS_UTIL_H
#define OBS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#ifndef OBS_VERSION
#define OBS_VERSION "0.1.0"
#endif

/* SHA-256 of len bytes as lowercase hex of the first nbytes bytes
 * (out needs 2*nbytes+1). nbytes <= 32. */
void obs_sha256_hex(const void *data, size_t len, char *out, size_t nbytes);

/* Incremental SHA-256 for the event id (fields joined by NUL). */
struct obs_sha256;
struct obs_sha256 *obs_sha256_new(void);
void obs_sha256_update(struct obs_sha256 *h, const void *data, size_t len);
/* Finish into hex (first nbytes bytes) and free h. */
void obs_sha256_final_hex(struct obs_sha256 *h, char *out, size_t nbytes);

/* Parse an ISO-8601 UTC timestamp "2025-08-24T04:16:32.053Z" (fraction and
 * offset optional) into milliseconds since the epoch. -1 on failure. */
int obs_parse_iso8601_ms(const char *s, int64_t *ms);
/* Format ms as "2025-08-24T04:16:32.053Z" into out (>= 25 bytes). */
void obs_format_iso8601_ms(int64_t ms, char *out, size_t len);

/* Wall-clock and monotonic time. */
int64_t obs_now_ms(void);
double obs_mono_s(void);

/* Copy at most len-1 bytes and NUL-terminate. */
void obs_strlcpy(char *dst, const char *src, size_t len);

#endif
