/* prod_split.c - complete-line splitter with a bounded carry; see prod_split.h. */
#include "prod_split.h"

#include <stdlib.h>
#include <string.h>

/* A carry grown past this is released once its line is out, so a process
 * following many files does not keep one long-line buffer per file. */
#define CARRY_KEEP (64 * 1024)

void prod_splitter_init(struct prod_splitter *sp, uint64_t off, size_t max_line) {
    memset(sp, 0, sizeof(*sp));
    sp->line_off = off;
    sp->max_line = max_line;
}

void prod_splitter_reset(struct prod_splitter *sp, uint64_t off) {
    sp->len = 0;
    sp->skipping = 0;
    sp->skip_len = 0;
    sp->line_off = off;
}

void prod_splitter_free(struct prod_splitter *sp) {
    free(sp->buf);
    sp->buf = NULL;
    sp->len = sp->cap = 0;
}

/* Append n bytes to the carry. */
static int carry(struct prod_splitter *sp, const char *d, size_t n) {
    if (sp->len + n > sp->cap) {
        size_t cap = sp->cap ? sp->cap : 4096;
        while (cap < sp->len + n)
            cap *= 2;
        char *b = realloc(sp->buf, cap);
        if (!b) return -1;
        sp->buf = b;
        sp->cap = cap;
    }
    memcpy(sp->buf + sp->len, d, n);
    sp->len += n;
    return 0;
}

int prod_splitter_feed(struct prod_splitter *sp, const char *data, size_t n, prod_line_fn fn, void *ud) {
    size_t pos = 0;
    while (pos < n) {
        const char *start = data + pos;
        const char *nl = memchr(start, '\n', n - pos);
        size_t seg = nl ? (size_t)(nl - start) : n - pos;
        const char *line = NULL;
        size_t line_len = 0;
        if (sp->skipping) {
            sp->skip_len += seg;
        } else if (sp->len + seg > sp->max_line) {
            sp->skipping = 1; /* oversize: stop keeping its bytes */
            sp->skip_len = sp->len + seg;
            sp->len = 0;
        } else if (nl && sp->len == 0) {
            line = start; /* whole line inside this chunk: no copy */
            line_len = seg;
        } else {
            if (carry(sp, start, seg) < 0) return -1;
            line = sp->buf;
            line_len = sp->len;
        }
        if (!nl) break;
        struct prod_line pl = {0};
        pl.offset = sp->line_off;
        if (sp->skipping) {
            pl.oversize = 1;
            pl.bytes = sp->skip_len;
        } else {
            pl.bytes = line_len;
            if (line_len > 0 && line[line_len - 1] == '\r') line_len--;
            pl.data = line;
            pl.len = line_len;
        }
        pl.next = pl.offset + pl.bytes + 1;
        sp->line_off = pl.next;
        sp->len = 0;
        sp->skipping = 0;
        sp->skip_len = 0;
        pos += seg + 1;
        if (fn(ud, &pl) < 0) return -1;
        if (sp->cap > CARRY_KEEP) prod_splitter_free(sp); /* len is 0: nothing is lost */
    }
    return 0;
}
