/* bench/api/print_sql.c - print one of obs-api's SQL statements (api/api_sql.h)
 * as a pgbench script line, so the baseline runs exactly the API's SQL.
 *
 *   print_sql NAME ARG...   ARG i replaces $i: "NULL" for a literal NULL,
 *                           anything else becomes the pgbench variable :p<i>
 *                           (set with pgbench -D p<i>=value). */
#include "api_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    static const struct {
        const char *name, *sql;
    } stmts[] = {{"sessions", API_SQL_SESSIONS},
                 {"session", API_SQL_SESSION},
                 {"usage", API_SQL_USAGE},
                 {"tools", API_SQL_TOOLS}};
    if (argc < 2) {
        fprintf(stderr, "usage: print_sql sessions|session|usage|tools ARG...\n");
        return 2;
    }
    const char *sql = NULL;
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
        if (strcmp(argv[1], stmts[i].name) == 0) sql = stmts[i].sql;
    if (!sql) {
        fprintf(stderr, "print_sql: unknown statement %s\n", argv[1]);
        return 2;
    }
    for (const char *p = sql; *p; p++) {
        if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
            char *end;
            long n = strtol(p + 1, &end, 10);
            if (n + 1 < argc && strcmp(argv[n + 1], "NULL") == 0)
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
