/* api_server.h - the obs-api HTTP server: N threads, each with its own
 * event_base, evhttp and PostgreSQL connection, all accepting on one
 * listening socket (docs/adr/0030-api-thread-per-connection.md). */
#ifndef API_SERVER_H
#define API_SERVER_H

/* Settings of obs-api (filled from the config table in api/main.c). */
struct api_config {
    char *listen;              /* "host:port" to listen on; port 0 picks one */
    long threads;              /* HTTP threads = PostgreSQL connections */
    char *database_url;        /* libpq URL */
    long statement_timeout_ms; /* SET statement_timeout on every connection */
    long connect_timeout_s;    /* libpq connect timeout */
    long max_body_bytes;       /* evhttp_set_max_body_size */
    long max_header_bytes;     /* evhttp_set_max_headers_size */
    long timeout_s;            /* evhttp_set_timeout: idle/read/write seconds */
    char *cors_allow_origin;   /* Access-Control-Allow-Origin; "" = CORS off */
    long auth_cache_s;         /* longest a positive key lookup is cached per thread (ADR 0033) */
    long rate_limit_rps;       /* requests per second per API key (token bucket); 0 = off */
    long rate_limit_burst;     /* bucket size; 0 = 2 x rps */
    char *log_level;           /* debug|info|warn|error */
};

/* Bind, start the threads and serve until SIGTERM/SIGINT; then stop
 * accepting, let in-flight requests finish and return 0. -1 (logged) when
 * the server cannot start. cfg is borrowed for the whole call. */
int api_server_run(const struct api_config *cfg) __attribute__((warn_unused_result));

#endif
