/* prod_split.h - turns the bytes of a growing file into complete lines.
 *
 * Bytes are fed in arbitrary chunks; a line is emitted only when its '\n'
 * has arrived, so a partial last line waits for the next feed (it is kept
 * in the splitter's carry buffer). The emitted payload excludes the '\n'
 * and a '\r' before it (CRLF files). A line longer than max_line is not
 * buffered: its bytes are counted and it is emitted once, flagged as
 * oversize, with its length, so memory stays bounded by max_line; a carry
 * over 64 KiB is released as soon as its line is emitted. */
#ifndef PROD_SPLIT_H
#define PROD_SPLIT_H

#include <stddef.h>
#include <stdint.h>

struct prod_line {
    const char *data; /* payload (no newline); NULL for an oversize line */
    size_t len;       /* payload length (0 for an oversize line) */
    uint64_t offset;  /* file offset of the line's first byte */
    uint64_t next;    /* file offset just after its '\n' */
    int oversize;     /* 1: longer than max_line, data not kept */
    uint64_t bytes;   /* length of the line without '\n' (always set) */
};

/* Called once per complete line, in file order. Return 0 to go on, -1 to
 * stop feeding (prod_splitter_feed then returns -1). */
typedef int (*prod_line_fn)(void *ud, const struct prod_line *line);

struct prod_splitter {
    char *buf;         /* carry: bytes of the current incomplete line (owned) */
    size_t len;        /* bytes in buf */
    size_t cap;        /* allocated size of buf */
    uint64_t line_off; /* file offset of the current line's first byte */
    size_t max_line;   /* longer lines are reported as oversize */
    int skipping;      /* 1 while inside an oversize line */
    uint64_t skip_len; /* bytes of that oversize line so far */
};

/* Start at file offset off. */
void prod_splitter_init(struct prod_splitter *sp, uint64_t off, size_t max_line);
/* Drop the carry and restart at off (truncation, replacement, rewind). */
void prod_splitter_reset(struct prod_splitter *sp, uint64_t off);
/* Free the carry buffer; the struct may be re-initialised. */
void prod_splitter_free(struct prod_splitter *sp);
/* Feed n bytes that follow everything fed so far. 0, or -1 when fn
 * stopped or memory ran out. */
int prod_splitter_feed(struct prod_splitter *sp, const char *data, size_t n, prod_line_fn fn, void *ud)
    __attribute__((warn_unused_result));
/* Offset of the first byte not yet emitted as part of a complete line. */
static inline uint64_t prod_splitter_line_start(const struct prod_splitter *sp) { return sp->line_off; }

#endif
