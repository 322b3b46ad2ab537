/* prod_path.h - the pure rules of the producer: which files to follow, the
 * session id of a transcript path (ccusage 20's rule), the file fingerprint,
 * the event id, and what a changed file means for its checkpoint.
 * Nothing here touches Kafka; everything is covered by unit tests. */
#ifndef PROD_PATH_H
#define PROD_PATH_H

#include <stddef.h>
#include <stdint.h>

/* Bytes that decide the fingerprint: the first line (up to and including
 * its '\n') capped at this many bytes. */
#define PROD_FP_MAX 1024
/* 8 bytes of SHA-256 as hex, plus NUL. */
#define PROD_FP_LEN 17
/* 16 bytes of SHA-256 as hex, plus NUL. */
#define PROD_EVENT_ID_LEN 33

/* Session id of a transcript from its path relative to the watch root:
 *   <p>/<s>.jsonl                 -> <s>
 *   <p>/<s>/subagents/.../x.jsonl -> <s>
 *   otherwise                     -> the name of the parent directory
 *   (a file directly in the root  -> its stem).
 * Writes into out (NUL-terminated, truncated to len). Returns 0, or -1 when
 * rel is empty. */
int prod_session_id(const char *rel, char *out, size_t len);

/* 1 if rel matches any of the comma-separated fnmatch globs in list
 * (a glob without '/' is matched against the base name too, so "*.jsonl"
 * matches at any depth). An empty or NULL list matches nothing. */
int prod_glob_match_list(const char *list, const char *rel);

/* How many leading bytes of a file (given its first avail bytes in buf,
 * file size `size`) the fingerprint covers: up to and including the first
 * '\n', at most PROD_FP_MAX. Returns 0 while it is not yet determined (no
 * '\n' in a file shorter than PROD_FP_MAX), which can only be the case
 * while the file has no complete line. */
size_t prod_fp_span(const char *buf, size_t avail, uint64_t size);

/* Fingerprint of those span bytes: hex of the first 8 bytes of SHA-256. */
void prod_fingerprint(const char *buf, size_t span, char out[PROD_FP_LEN]);

/* file_id "<dev>:<inode>:<fp>" into out. */
void prod_file_id(uint64_t dev, uint64_t ino, const char *fp, char *out, size_t len);

/* event_id = hex of the first 16 bytes of SHA-256 over
 * tenant \0 host \0 source_path \0 file_id \0 decimal(offset). */
void prod_event_id(const char *tenant, const char *host, const char *source_path, const char *file_id,
                   int64_t offset, char out[PROD_EVENT_ID_LEN]);

/* The same event id, for many lines of one file: the SHA-256 state after
 * the constant prefix (tenant \0 host \0 source_path \0 file_id \0) is
 * kept, so each line costs one context copy and one block instead of a
 * digest fetch, an allocation and the whole prefix. */
struct prod_eid;
struct prod_eid *prod_eid_new(void); /* NULL when out of memory */
void prod_eid_free(struct prod_eid *e);
/* Set the prefix; later calls with the same four strings cost a compare. */
int prod_eid_prefix(struct prod_eid *e, const char *tenant, const char *host, const char *source_path,
                    const char *file_id);
/* event id of offset under the current prefix (equal to prod_event_id's). */
int prod_eid_line(struct prod_eid *e, int64_t offset, char out[PROD_EVENT_ID_LEN]);

/* What a file found at a known path means for the state we hold for it. */
enum prod_file_change {
    PROD_FILE_SAME = 0,  /* same file; resume at the known offset */
    PROD_FILE_TRUNCATED, /* same inode but shorter than the offset: restart at 0 */
    PROD_FILE_REPLACED,  /* another inode or fingerprint: a new file from 0 */
};

/* Compare what we know (dev, ino, fp, offset; fp "" = not yet known) with
 * what is on disk now (dev, ino, fp ("" = not yet determined), size). */
enum prod_file_change prod_file_compare(uint64_t old_dev, uint64_t old_ino, const char *old_fp,
                                        uint64_t old_off, uint64_t dev, uint64_t ino, const char *fp,
                                        uint64_t size);
const char *prod_file_change_name(enum prod_file_change c);

/* Expand a leading "~" or "~/" with $HOME (or the passwd entry) into out.
 * Returns 0, -1 when it does not fit. */
int prod_expand_home(const char *path, char *out, size_t len);

#endif
