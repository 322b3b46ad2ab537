/* test_ckpt.c - checkpoint write/read round trip and atomic replacement
 * (producer/prod_ckpt.c). */
#include "../obs_test.h"
#include "../../../producer/prod_ckpt.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

int main(void) {
    char dir[] = "/tmp/prod-ckpt-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    char path[256], errstr[256] = "";
    snprintf(path, sizeof(path), "%s/sub/dir/producer.checkpoint", dir);

    struct prod_ckpt c = {0}, r = {0};
    CHECK(prod_ckpt_read(path, &r, errstr, sizeof(errstr)) == 0 && r.n == 0, "missing file reads as empty");
    CHECK(prod_ckpt_add(&c, "/root/p/s.jsonl", 2049, 123456, "0123456789abcdef", 4096) == 0, "add 1");
    CHECK(prod_ckpt_add(&c, "/root/p with space/s\nnl\\.jsonl", 1, 2, "", 0) == 0, "add 2 (odd path)");
    CHECK(prod_ckpt_write(path, c.items, c.n, errstr, sizeof(errstr)) == 0, "write creates parents: %s",
          errstr);
    CHECK(prod_ckpt_read(path, &r, errstr, sizeof(errstr)) == 0, "read back");
    CHECK(r.n == 2, "two entries");
    struct prod_ckpt_entry *e = prod_ckpt_find(&r, "/root/p/s.jsonl");
    CHECK(e && e->dev == 2049 && e->ino == 123456 && e->offset == 4096 &&
              strcmp(e->fp, "0123456789abcdef") == 0,
          "entry 1 round trip");
    e = prod_ckpt_find(&r, "/root/p with space/s\nnl\\.jsonl");
    CHECK(e && e->dev == 1 && e->ino == 2 && e->offset == 0 && e->fp[0] == '\0',
          "entry 2 round trip (escapes)");
    prod_ckpt_free(&r);

    /* atomic replace: a new write replaces the whole file, no temp left */
    c.items[0].offset = 8192;
    CHECK(prod_ckpt_write(path, c.items, 1, errstr, sizeof(errstr)) == 0, "second write");
    CHECK(prod_ckpt_read(path, &r, errstr, sizeof(errstr)) == 0 && r.n == 1 && r.items[0].offset == 8192,
          "second write replaced the first");
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/sub/dir", dir);
    CHECK(count_entries(sub) == 1, "no temporary file left beside the checkpoint");
    prod_ckpt_free(&r);

    /* a stale temp file from a crash does not matter */
    char stale[300];
    snprintf(stale, sizeof(stale), "%s.tmp.99999", path);
    FILE *f = fopen(stale, "w");
    fputs("garbage", f);
    fclose(f);
    CHECK(prod_ckpt_read(path, &r, errstr, sizeof(errstr)) == 0 && r.n == 1, "stale temp file ignored");
    prod_ckpt_free(&r);
    unlink(stale);

    /* malformed file */
    f = fopen(path, "w");
    fputs("# header\nnot a line\n", f);
    fclose(f);
    CHECK(prod_ckpt_read(path, &r, errstr, sizeof(errstr)) == -1 && strstr(errstr, ":2:"),
          "malformed line reported: %s", errstr);
    prod_ckpt_free(&r);

    /* unwritable location */
    CHECK(prod_ckpt_write("/proc/nope/x.checkpoint", c.items, c.n, errstr, sizeof(errstr)) == -1,
          "unwritable: %s", errstr);
    prod_ckpt_free(&c);
    unlink(path);
    OBS_TEST_END();
}
