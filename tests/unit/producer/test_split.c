/* test_split.c - the complete-line splitter (producer/prod_split.c):
 * partial last line, CRLF, empty lines, lines split across reads,
 * oversize lines. */
#include "../obs_test.h"
#include "../../../producer/prod_split.h"

#include <stdlib.h>
#include <string.h>

struct got {
    char text[64][64]; /* payloads ("<OVERSIZE n>" for oversize) */
    uint64_t off[64];  /* their offsets */
    uint64_t next[64]; /* offset after each */
    int n;
};

static int on_line(void *ud, const struct prod_line *l) {
    struct got *g = ud;
    if (l->oversize)
        snprintf(g->text[g->n], 64, "<OVERSIZE %llu>", (unsigned long long)l->bytes);
    else
        snprintf(g->text[g->n], 64, "%.*s", (int)l->len, l->data);
    g->off[g->n] = l->offset;
    g->next[g->n] = l->next;
    g->n++;
    return 0;
}

static int stop_at_first(void *ud, const struct prod_line *l) {
    (void)l;
    (*(int *)ud)++;
    return -1;
}

/* A long line carried across reads does not keep its buffer afterwards. */
static void test_carry_released(void) {
    struct prod_splitter sp;
    struct got g = {0};
    size_t n = 300 * 1024;
    char *big = malloc(n);
    memset(big, 'z', n);
    prod_splitter_init(&sp, 0, 1000000);
    CHECK(prod_splitter_feed(&sp, big, n, on_line, &g) == 0 && g.n == 0 && sp.cap >= n,
          "300 KiB partial line carried (cap %zu)", sp.cap);
    CHECK(prod_splitter_feed(&sp, "\nshort", 6, on_line, &g) == 0 && g.n == 1, "long line emitted");
    CHECK(sp.cap <= 64 * 1024, "its carry released afterwards (cap %zu)", sp.cap);
    CHECK(prod_splitter_feed(&sp, "\n", 1, on_line, &g) == 0 && g.n == 2 && strcmp(g.text[1], "hort") != 0 &&
              strcmp(g.text[1], "short") == 0,
          "the next partial line still joins (%s)", g.text[1]);
    prod_splitter_free(&sp);
    free(big);
}

int main(void) {
    struct prod_splitter sp;
    struct got g = {0};
    test_carry_released();

    prod_splitter_init(&sp, 0, 1000);
    CHECK(prod_splitter_feed(&sp, "a\nbb\ncc", 7, on_line, &g) == 0, "feed ok");
    CHECK(g.n == 2, "two complete lines, partial last line not emitted (got %d)", g.n);
    CHECK_STR(g.text[0], "a", "first line");
    CHECK_STR(g.text[1], "bb", "second line");
    CHECK(g.off[0] == 0 && g.off[1] == 2 && g.next[1] == 5, "offsets of line starts and next");
    CHECK(prod_splitter_line_start(&sp) == 5, "line start waits at the partial line");
    CHECK(prod_splitter_feed(&sp, "c", 1, on_line, &g) == 0 && g.n == 2, "still partial after more bytes");
    CHECK(prod_splitter_feed(&sp, "c\n", 2, on_line, &g) == 0 && g.n == 3, "line split across three reads");
    CHECK_STR(g.text[2], "cccc", "joined line payload");
    CHECK(g.off[2] == 5 && g.next[2] == 10, "joined line offset 5, next 10");

    /* CRLF and empty lines */
    g.n = 0;
    prod_splitter_reset(&sp, 100);
    CHECK(prod_splitter_feed(&sp, "x\r\n\n\r\ny\n", 9, on_line, &g) == 0, "feed crlf");
    CHECK(g.n == 4, "four lines (two empty)");
    CHECK_STR(g.text[0], "x", "CR stripped");
    CHECK_STR(g.text[1], "", "empty line emitted as empty");
    CHECK_STR(g.text[2], "", "CRLF-only line is empty");
    CHECK(g.off[0] == 100 && g.off[1] == 103 && g.off[2] == 104 && g.off[3] == 106, "offsets count CR bytes");

    /* split exactly at the newline / at CR */
    g.n = 0;
    prod_splitter_reset(&sp, 0);
    CHECK(prod_splitter_feed(&sp, "abc\r", 4, on_line, &g) == 0 && g.n == 0, "CR without LF: waits");
    CHECK(prod_splitter_feed(&sp, "\n", 1, on_line, &g) == 0 && g.n == 1, "LF completes the line");
    CHECK_STR(g.text[0], "abc", "CR stripped across reads");

    /* oversize: bounded carry, reported once with its length */
    g.n = 0;
    prod_splitter_free(&sp);
    prod_splitter_init(&sp, 0, 10);
    CHECK(prod_splitter_feed(&sp, "ok\n0123456789", 13, on_line, &g) == 0 && g.n == 1,
          "10 bytes: not yet oversize");
    CHECK(prod_splitter_feed(&sp, "ABCDEFGHIJ", 10, on_line, &g) == 0 && g.n == 1,
          "20 bytes, no newline: nothing");
    CHECK(sp.len == 0 && sp.skipping, "oversize bytes are not kept");
    CHECK(prod_splitter_feed(&sp, "K\nnext\n", 7, on_line, &g) == 0 && g.n == 3,
          "oversize then a normal line");
    CHECK_STR(g.text[1], "<OVERSIZE 21>", "oversize reported with its length");
    CHECK(g.off[1] == 3 && g.next[1] == 25, "oversize offsets");
    CHECK_STR(g.text[2], "next", "line after the oversize one");
    CHECK(g.off[2] == 25, "offset after oversize");
    g.n = 0;
    prod_splitter_reset(&sp, 0);
    CHECK(prod_splitter_feed(&sp, "0123456789\n", 11, on_line, &g) == 0 && g.n == 1 &&
              strcmp(g.text[0], "0123456789") == 0,
          "exactly max_line bytes is not oversize");

    /* callback stops */
    int calls = 0;
    prod_splitter_reset(&sp, 0);
    CHECK(prod_splitter_feed(&sp, "a\nb\n", 4, stop_at_first, &calls) == -1 && calls == 1,
          "callback -1 stops the feed");
    prod_splitter_free(&sp);
    OBS_TEST_END();
}
