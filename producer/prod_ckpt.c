/* prod_ckpt.c - atomic checkpoint file; see prod_ckpt.h. */
#include "prod_ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_HEADER "# observatory producer checkpoint v1\n"

int prod_ckpt_add(struct prod_ckpt *c, const char *path, uint64_t dev, uint64_t ino, const char *fp,
                  uint64_t offset) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct prod_ckpt_entry *items = realloc(c->items, cap * sizeof(*items));
        if (!items) return -1;
        c->items = items;
        c->cap = cap;
    }
    struct prod_ckpt_entry *e = &c->items[c->n];
    e->path = strdup(path);
    if (!e->path) return -1;
    e->dev = dev;
    e->ino = ino;
    snprintf(e->fp, sizeof(e->fp), "%s", fp ? fp : "");
    e->offset = offset;
    c->n++;
    return 0;
}

struct prod_ckpt_entry *prod_ckpt_find(struct prod_ckpt *c, const char *path) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].path, path) == 0) return &c->items[i];
    return NULL;
}

void prod_ckpt_free(struct prod_ckpt *c) {
    for (size_t i = 0; i < c->n; i++)
        free(c->items[i].path);
    free(c->items);
    c->items = NULL;
    c->n = c->cap = 0;
}

/* mkdir -p for the directory part of path. */
static int make_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return -1;
    return 0;
}

static void put_escaped(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

int prod_ckpt_write(const char *path, const struct prod_ckpt_entry *e, size_t n, char *errstr,
                    size_t errlen) {
    char tmp[4200];
    FILE *f = NULL;
    int fd = -1;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (make_parent(path) < 0) {
        snprintf(errstr, errlen, "checkpoint %s: cannot create its directory: %s", path, strerror(errno));
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        snprintf(errstr, errlen, "checkpoint %s: %s", tmp, strerror(errno));
        goto err;
    }
    fputs(CKPT_HEADER, f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%" PRIu64 " %" PRIu64 " %s %" PRIu64 " ", e[i].dev, e[i].ino, e[i].fp[0] ? e[i].fp : "-",
                e[i].offset);
        put_escaped(f, e[i].path);
        fputc('\n', f);
    }
    if (fflush(f) != 0 || fsync(fd) != 0) {
        snprintf(errstr, errlen, "checkpoint %s: write: %s", tmp, strerror(errno));
        goto err;
    }
    if (fclose(f) != 0) {
        f = NULL;
        fd = -1;
        snprintf(errstr, errlen, "checkpoint %s: close: %s", tmp, strerror(errno));
        goto err;
    }
    f = NULL;
    fd = -1;
    if (rename(tmp, path) < 0) {
        snprintf(errstr, errlen, "checkpoint %s: rename: %s", path, strerror(errno));
        goto err;
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* the rename is durable once the directory is */
        close(dfd);
    }
    return 0;
err:
    if (f)
        fclose(f);
    else if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

int prod_ckpt_read(const char *path, struct prod_ckpt *c, char *errstr, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(errstr, errlen, "checkpoint %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (got > 0 && line[got - 1] == '\n') line[--got] = '\0';
        if (got == 0 || line[0] == '#') continue;
        uint64_t dev, ino, off;
        char fp[64];
        int used = 0;
        if (sscanf(line, "%" SCNu64 " %" SCNu64 " %63s %" SCNu64 " %n", &dev, &ino, fp, &off, &used) != 4 ||
            used == 0 || line[used] == '\0' || (strcmp(fp, "-") != 0 && strlen(fp) != PROD_FP_LEN - 1)) {
            snprintf(errstr, errlen, "checkpoint %s:%d: malformed line", path, lineno);
            rc = -1;
            break;
        }
        char *p = line + used, *q = p; /* unescape the path in place */
        for (; *p; p++) {
            if (*p == '\\' && p[1] == 'n')
                *q++ = '\n', p++;
            else if (*p == '\\' && p[1] == '\\')
                *q++ = '\\', p++;
            else
                *q++ = *p;
        }
        *q = '\0';
        if (prod_ckpt_add(c, line + used, dev, ino, strcmp(fp, "-") == 0 ? "" : fp, off) < 0) {
            snprintf(errstr, errlen, "checkpoint %s: out of memory", path);
            rc = -1;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}
