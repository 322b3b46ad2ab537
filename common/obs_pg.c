/* obs_pg.c - libpq helpers, see obs_pg.h. */
#include "obs_pg.h"

#include <stdio.h>
#include <string.h>

#ifndef OBS_SCHEMA_VERSION
#define OBS_SCHEMA_VERSION 1
#endif

int obs_schema_expected_version(void) { return OBS_SCHEMA_VERSION; }

static void one_line(char *s) {
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
}

void obs_pg_errmsg(PGconn *conn, char *errstr, size_t errlen) {
    snprintf(errstr, errlen, "%s", conn ? PQerrorMessage(conn) : "no connection");
    one_line(errstr);
}

PGconn *obs_pg_connect(const char *url, const char *app_name, int timeout_s, char *errstr, size_t errlen) {
    char tmo[16];
    snprintf(tmo, sizeof(tmo), "%d", timeout_s);
    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *vals[] = {url, app_name, tmo, NULL};
    /* expand_dbname=1: the URL's own settings win over ours where given. */
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        obs_pg_errmsg(c, errstr, errlen);
        if (c) PQfinish(c);
        return NULL;
    }
    return c;
}

int obs_pg_exec(PGconn *conn, const char *sql, char *errstr, size_t errlen) {
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        snprintf(errstr, errlen, "%s", PQresultErrorMessage(r));
        one_line(errstr);
    }
    PQclear(r);
    return ok ? 0 : -1;
}
