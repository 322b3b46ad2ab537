/* obs_pg.h - libpq helpers shared by workers, api and obsctl. */
#ifndef OBS_PG_H
#define OBS_PG_H

#include <libpq-fe.h>
#include <stddef.h>

/* Connect to url with application_name set and a connect timeout (seconds,
 * used when the URL has none). NULL with errstr (one line) on failure. */
PGconn *obs_pg_connect(const char *url, const char *app_name, int timeout_s, char *errstr, size_t errlen);

/* Run a command without parameters; 0 or -1 with the server's message in
 * errstr. */
int obs_pg_exec(PGconn *conn, const char *sql, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

/* One-line copy of PQerrorMessage (newlines removed). */
void obs_pg_errmsg(PGconn *conn, char *errstr, size_t errlen);

/* Number of the newest migration file this build ships (compiled in). */
int obs_schema_expected_version(void);

#endif
