/* prod_ckpt.h - the producer's checkpoint file: for every followed file
 * (path, device, inode, fingerprint, acknowledged offset).
 *
 * Text, one file per line, so an operator can read it:
 *   # observatory producer checkpoint v1
 *   <dev> <inode> <fingerprint|-> <offset> <absolute path, \\ and \n escaped>
 * Written atomically: a temporary file beside it, fsync, rename over the
 * old one, fsync of the directory; a crash leaves the old or the new file,
 * never a mix. */
#ifndef PROD_CKPT_H
#define PROD_CKPT_H

#include "prod_path.h"

#include <stddef.h>
#include <stdint.h>

struct prod_ckpt_entry {
    char *path;           /* absolute path (owned by the list) */
    uint64_t dev;         /* st_dev */
    uint64_t ino;         /* st_ino */
    char fp[PROD_FP_LEN]; /* fingerprint, "" when not yet known */
    uint64_t offset;      /* every byte before it is acknowledged by Kafka */
};

struct prod_ckpt {
    struct prod_ckpt_entry *items; /* n entries (owned) */
    size_t n;                      /* in use */
    size_t cap;                    /* allocated */
};

/* Append an entry (copies path). 0 or -1 on memory exhaustion. */
int prod_ckpt_add(struct prod_ckpt *c, const char *path, uint64_t dev, uint64_t ino, const char *fp,
                  uint64_t offset) __attribute__((warn_unused_result));
/* Entry for path or NULL (linear; the list is read once at start-up). */
struct prod_ckpt_entry *prod_ckpt_find(struct prod_ckpt *c, const char *path);
/* Free every entry; c may be reused. Accepts an empty list. */
void prod_ckpt_free(struct prod_ckpt *c);

/* Write n entries to path atomically, creating the parent directory.
 * 0, or -1 with errstr. */
int prod_ckpt_write(const char *path, const struct prod_ckpt_entry *e, size_t n, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));
/* Read path into c (appending). A missing file is not an error (c stays
 * empty). -1 with errstr on an unreadable or malformed file. */
int prod_ckpt_read(const char *path, struct prod_ckpt *c, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

#endif
