/* bench/api/print_sql.c - print one of obs-api's SQL statements (api/api_sql.h)
 * as a pgbench script line, so the baseline runs exactly the API's SQL.
 *
 *   print_sql NAME ARG... [+ NAME ARG...]
 *                           ARG i replaces $i: "NULL" for a literal NULL,
 *                           anything else becomes the pgbench variable :p<i>
 *                           (set with pgbench -D p<i>=value). Statements
 *                           joined by "+" form one pgbench transaction (a
 *                           route that runs two statements). */
#include "api_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *sql;
} stmts[] = {{"sessions", API_SQL_SESSIONS},         {"sessions_cost", API_SQL_SESSIONS_COST},
             {"session", API_SQL_SESSION},           {"session_parts", API_SQL_SESSION_PARTS},
             {"usage", API_SQL_USAGE_DAILY},         {"usage_day", API_SQL_USAGE_DAY},
             {"usage_events", API_SQL_USAGE_EVENTS}, {"tools", API_SQL_TOOLS},
             {"tools_days", API_SQL_TOOLS_DAYS},     {"search", API_SQL_SEARCH}};

/* Print one statement with its arguments argv[0..argc-1]. */
static int print_one(const char *name, int argc, char **argv) {
    const char *sql = NULL;
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
        if (strcmp(name, stmts[i].name) == 0) sql = stmts[i].sql;
    if (!sql) {
        fprintf(stderr, "print_sql: unknown statement %s\n", name);
        return 2;
    }
    for (const char *p = sql; *p; p++) {
        if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
            char *end;
            long n = strtol(p + 1, &end, 10);
            if (n <= argc && strcmp(argv[n - 1], "NULL") == 0)
                fputs("NULL", stdout);
            else
                printf(":p%ld", n);
            p = end - 1;
        } else {
            putchar(*p);
        }
    }
    puts(";");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: print_sql NAME ARG... [+ NAME ARG...]\n");
        return 2;
    }
    /* Statements separated by "+" become one pgbench transaction. */
    int start = 1;
    for (int i = 1; i <= argc; i++) {
        if (i == argc || strcmp(argv[i], "+") == 0) {
            int rc = print_one(argv[start], i - start - 1, argv + start + 1);
            if (rc) return rc;
            start = i + 1;
        }
    }
    return 0;
}
