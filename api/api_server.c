/* api_server.c - obs-api's HTTP side: threads, routing, auth, queries.
 *
 * Thread model: http.threads worker threads, each owning one event_base,
 * one evhttp, one PGconn and a small cache of API keys. Every thread has an
 * evconnlistener on the same non-blocking listening socket (created once by
 * the main thread), so the kernel spreads connections over the threads.
 * Handlers run to completion on their thread (blocking libpq calls: a
 * thread serves one request at a time, like a connection pool of size N
 * with one waiter queue per thread). The main thread waits for
 * SIGTERM/SIGINT as loop events and then tells every thread to stop; its
 * loop also drives the LISTEN connection that invalidates the key caches
 * when api_keys change (ADR 0033). */
#include "api_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_params.h"
#include "api_sql.h"
#include "obs_admin.h"
#include "obs_log.h"
#include "obs_metrics.h"
#include "obs_pg.h"
#include "obs_util.h"

/* ---- types ------------------------------------------------------------------ */

#define API_KEY_CACHE_SLOTS 64

/* One cached positive key lookup (per thread, no locking). Used only while
 * auth_gen still equals gen (a key change was notified since: refetch), the
 * key has not reached its expiry and valid_until has not passed. */
struct api_key_slot {
    char hash[65];      /* hex sha256 of the key; "" = empty slot */
    char tenant[256];   /* the key's tenant */
    double valid_until; /* obs_mono_s() deadline: looked up + auth.cache_s */
    int64_t expires_ms; /* api_keys.expires_at in Unix ms; 0 = never */
    uint64_t gen;       /* auth_gen read before the lookup */
};

/* One HTTP worker thread and everything it owns. */
struct api_thread {
    int index;                                     /* 0..threads-1, for logs */
    pthread_t tid;                                 /* the thread */
    const struct api_config *cfg;                  /* borrowed settings */
    struct event_base *base;                       /* this thread's loop */
    struct evhttp *http;                           /* this thread's server */
    struct evconnlistener *lev;                    /* accept on the shared socket */
    struct evhttp_bound_socket *bound;             /* evhttp's handle of lev */
    struct event *stop_ev;                         /* activated by the main thread */
    struct event *drain_ev;                        /* polls in_flight while stopping */
    double drain_deadline;                         /* give up waiting after this */
    int in_flight;                                 /* replies dispatched, not yet written */
    PGconn *conn;                                  /* this thread's DB connection or NULL */
    double next_connect;                           /* no reconnect attempt before this */
    struct api_key_slot keys[API_KEY_CACHE_SLOTS]; /* positive auth cache */
    uint64_t rid_seed;                             /* request-id generator state */
};

/* One request being handled (lives on the handler's stack). */
struct api_req {
    struct evhttp_request *req; /* libevent's request */
    struct api_thread *t;       /* the thread running it */
    const char *route;          /* route template for metrics and logs */
    char request_id[72];        /* honoured or generated */
    char tenant[256];           /* after auth */
    double start;               /* obs_mono_s() at dispatch */
    int replied;                /* a reply was sent */
    const char *value_field;    /* parameter PostgreSQL validates (tz): its errors are 400 */
};

static struct obs_metric *m_db_up;

/* Key-cache generation: bumped by the main thread for every NOTIFY
 * observatory_api_keys (migrations/0043) and whenever its LISTEN connection
 * is (re)established, since notifications sent while it was down are lost.
 * A cached key read at another generation is looked up again (ADR 0033). */
static _Atomic uint64_t auth_gen = 1;
static struct obs_metric *m_auth_listen_up;     /* 1 while the LISTEN connection is up */
static struct obs_metric *m_auth_invalidations; /* notifications received */

/* ---- rate limit ------------------------------------------------------------- */

/* Token bucket per API key, shared by all threads (one mutex; the critical
 * section is a few arithmetic operations). Keys are identified by their hash;
 * when the table is full the bucket idle longest is reused. */
#define API_RL_SLOTS 1024
struct api_rl_slot {
    char hash[65]; /* key hash; "" = free */
    double tokens; /* tokens left */
    double last;   /* obs_mono_s() of the last refill */
};
static struct api_rl_slot rl_slots[API_RL_SLOTS];
static pthread_mutex_t rl_mu = PTHREAD_MUTEX_INITIALIZER;

/* Take one token for hash; 0 when allowed, else the seconds to wait (>= 1). */
static int rate_limit_take(const struct api_config *cfg, const char *hash) {
    if (cfg->rate_limit_rps <= 0) return 0;
    double rps = (double)cfg->rate_limit_rps;
    double burst = cfg->rate_limit_burst > 0 ? (double)cfg->rate_limit_burst : 2.0 * rps;
    double now = obs_mono_s();
    uint64_t h = 1469598103934665603ull;
    for (const char *p = hash; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    int wait = 0;
    pthread_mutex_lock(&rl_mu);
    struct api_rl_slot *slot = NULL, *oldest = NULL;
    for (int i = 0; i < 16 && !slot; i++) {
        struct api_rl_slot *c = &rl_slots[(h + (uint64_t)i) % API_RL_SLOTS];
        if (strcmp(c->hash, hash) == 0)
            slot = c;
        else if (!oldest || c->last < oldest->last)
            oldest = c;
    }
    if (!slot) {
        slot = oldest;
        obs_strlcpy(slot->hash, hash, sizeof(slot->hash));
        slot->tokens = burst;
        slot->last = now;
    }
    slot->tokens += (now - slot->last) * rps;
    if (slot->tokens > burst) slot->tokens = burst;
    slot->last = now;
    if (slot->tokens >= 1.0) {
        slot->tokens -= 1.0;
    } else {
        wait = (int)((1.0 - slot->tokens) / rps + 0.999);
        if (wait < 1) wait = 1;
    }
    pthread_mutex_unlock(&rl_mu);
    return wait;
}

/* ---- replies, metrics, access log ------------------------------------------ */

static void on_request_complete(struct evhttp_request *req, void *arg) {
    (void)req;
    struct api_thread *t = arg;
    if (t->in_flight > 0) t->in_flight--;
}

static void sanitize_ascii(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '"' || *s == '\\') *s = '?';
}

/* One JSON access line on stderr (info level). Runs on the request's thread. */
static void access_log(struct api_req *ar, int status, double secs) {
    if (obs_log_get_level() > OBS_LOG_INFO) return;
    const char *uri = evhttp_request_get_uri(ar->req);
    char path[512];
    obs_strlcpy(path, uri ? uri : "", sizeof(path));
    char *qm = strchr(path, '?');
    if (qm) *qm = '\0';
    sanitize_ascii(path);
    const char *method = "OTHER";
    switch (evhttp_request_get_command(ar->req)) {
    case EVHTTP_REQ_GET:
        method = "GET";
        break;
    case EVHTTP_REQ_HEAD:
        method = "HEAD";
        break;
    case EVHTTP_REQ_POST:
        method = "POST";
        break;
    case EVHTTP_REQ_PUT:
        method = "PUT";
        break;
    case EVHTTP_REQ_DELETE:
        method = "DELETE";
        break;
    case EVHTTP_REQ_OPTIONS:
        method = "OPTIONS";
        break;
    case EVHTTP_REQ_PATCH:
        method = "PATCH";
        break;
    default:
        break;
    }
    char ts[32];
    obs_format_iso8601_ms(obs_now_ms(), ts, sizeof(ts));
    char line[1024];
    int n = snprintf(
        line, sizeof(line),
        "{\"ts\":\"%s\",\"level\":\"info\",\"prog\":\"obs-api\",\"ctx\":\"access\",\"method\":\"%s\","
        "\"path\":\"%s\",\"route\":\"%s\",\"status\":%d,\"duration_ms\":%.3f,\"request_id\":\"%s\","
        "\"tenant\":%s%s%s,\"thread\":%d}\n",
        ts, method, path, ar->route, status, secs * 1000.0, ar->request_id, ar->tenant[0] ? "\"" : "",
        ar->tenant[0] ? ar->tenant : "null", ar->tenant[0] ? "\"" : "", ar->t->index);
    if (n > 0) {
        if ((size_t)n >= sizeof(line)) n = (int)sizeof(line) - 1;
        ssize_t w = write(2, line, (size_t)n);
        (void)w;
    }
}

/* Send status with body (copied) and content type; records metrics and the
 * access line. Only the first call per request has an effect. */
static void reply_raw(struct api_req *ar, int status, const char *ctype, const char *body, size_t len) {
    if (ar->replied) return;
    ar->replied = 1;
    struct evkeyvalq *h = evhttp_request_get_output_headers(ar->req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "X-Request-Id", ar->request_id);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (ar->t->cfg->cors_allow_origin && ar->t->cfg->cors_allow_origin[0]) {
        evhttp_add_header(h, "Access-Control-Allow-Origin", ar->t->cfg->cors_allow_origin);
        evhttp_add_header(h, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
        evhttp_add_header(h, "Vary", "Origin");
    }
    struct evbuffer *b = evbuffer_new();
    if (b && body && len) evbuffer_add(b, body, len);
    ar->t->in_flight++;
    evhttp_request_set_on_complete_cb(ar->req, on_request_complete, ar->t);
    evhttp_send_reply(ar->req, status, NULL, b);
    if (b) evbuffer_free(b);

    double secs = obs_mono_s() - ar->start;
    char labels[160];
    snprintf(labels, sizeof(labels), "route=\"%s\",status=\"%d\"", ar->route, status);
    obs_metric_inc(
        obs_metrics_counter("observatory_api_requests_total", labels, "HTTP requests by route and status"));
    snprintf(labels, sizeof(labels), "route=\"%s\"", ar->route);
    obs_metric_observe(obs_metrics_histogram("observatory_api_request_seconds", labels,
                                             "HTTP request latency by route", obs_latency_buckets,
                                             obs_latency_nbuckets),
                       secs);
    access_log(ar, status, secs);
}

static void reply_json(struct api_req *ar, int status, const char *body) {
    reply_raw(ar, status, "application/json", body, body ? strlen(body) : 0);
}

/* JSON error reply; field may be NULL. */
static void reply_error(struct api_req *ar, int status, const char *code, const char *message,
                        const char *field) {
    char *body = api_error_json(code, message, field);
    if (status == 503) evhttp_add_header(evhttp_request_get_output_headers(ar->req), "Retry-After", "2");
    if (status == 401)
        evhttp_add_header(evhttp_request_get_output_headers(ar->req), "WWW-Authenticate",
                          "Bearer realm=\"observatory\"");
    reply_json(ar, status, body ? body : "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
    free(body);
}

/* ---- database --------------------------------------------------------------- */

/* This thread's connection, (re)connecting when needed. NULL when the
 * database cannot be reached (at most one attempt per second per thread). */
static PGconn *db_get(struct api_thread *t) {
    if (t->conn && PQstatus(t->conn) == CONNECTION_OK) return t->conn;
    if (t->conn) {
        PQfinish(t->conn);
        t->conn = NULL;
    }
    double now = obs_mono_s();
    if (now < t->next_connect) return NULL;
    char err[512];
    PGconn *c =
        obs_pg_connect(t->cfg->database_url, "obs-api", (int)t->cfg->connect_timeout_s, err, sizeof(err));
    if (!c) {
        t->next_connect = obs_mono_s() + 1.0;
        obs_metric_set(m_db_up, 0);
        obs_warn("db", "thread %d: cannot connect: %s", t->index, err);
        return NULL;
    }
    char tmo[32];
    snprintf(tmo, sizeof(tmo), "%ld", t->cfg->statement_timeout_ms);
    const char *p[] = {tmo};
    /* jit off: the API's statements run for milliseconds, but a plan over
     * ~90 day partitions easily passes jit_above_cost, and compiling it took
     * 0.5-30 s (ADR 0033, "Tools by session filter"). */
    PGresult *r =
        PQexecParams(c, "SELECT set_config('statement_timeout', $1, false), set_config('jit', 'off', false)",
                     1, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok) {
        obs_pg_errmsg(c, err, sizeof(err));
        obs_warn("db", "thread %d: setting statement_timeout and jit failed: %s", t->index, err);
        PQfinish(c);
        t->next_connect = obs_mono_s() + 1.0;
        obs_metric_set(m_db_up, 0);
        return NULL;
    }
    obs_metric_set(m_db_up, 1);
    obs_info("db", "thread %d: connected", t->index);
    t->conn = c;
    return c;
}

/* Run a parameterised query. On failure replies (503 when the database is
 * unreachable or the statement timed out, 500 otherwise) and returns NULL;
 * the caller PQclear()s a non-NULL result. */
static PGresult *db_query(struct api_req *ar, const char *sql, int n, const char *const *params) {
    PGconn *c = db_get(ar->t);
    if (!c) {
        reply_error(ar, 503, "unavailable", "the database is unavailable; retry later", NULL);
        return NULL;
    }
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) return r;
    /* Copied: the field points into r, which is cleared below. */
    char state_buf[8];
    const char *sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    obs_strlcpy(state_buf, sqlstate ? sqlstate : "", sizeof(state_buf));
    const char *state = sqlstate ? state_buf : NULL;
    char msg[512];
    obs_strlcpy(msg, PQresultErrorMessage(r), sizeof(msg));
    for (char *p = msg; *p; p++)
        if (*p == '\n') *p = ' ';
    PQclear(r);
    if (PQstatus(c) != CONNECTION_OK) {
        obs_warn("db", "thread %d: connection lost: %s", ar->t->index, msg);
        PQfinish(c);
        ar->t->conn = NULL;
        obs_metric_set(m_db_up, 0);
        reply_error(ar, 503, "unavailable", "the database is unavailable; retry later", NULL);
    } else if (state && strcmp(state, "22023") == 0 && ar->value_field) {
        char m2[128];
        snprintf(m2, sizeof(m2), "%s is not recognized by the database", ar->value_field);
        reply_error(ar, 400, "bad_parameter", m2, ar->value_field);
    } else if (state && strcmp(state, "57014") == 0) {
        obs_warn("db", "request %s: statement timeout", ar->request_id);
        reply_error(ar, 503, "timeout", "the query took too long; narrow the filters or retry later", NULL);
    } else {
        obs_error("db", "request %s: query failed: %s", ar->request_id, msg);
        reply_error(ar, 500, "internal", "internal error", NULL);
    }
    return NULL;
}

/* ---- auth ------------------------------------------------------------------- */

/* 0 when the key (by hash) may make another request now; else replies 429
 * with Retry-After and returns -1. */
static int rate_limited(struct api_req *ar, const char *hash) {
    int wait = rate_limit_take(ar->t->cfg, hash);
    if (wait == 0) return 0;
    char ra[16];
    snprintf(ra, sizeof(ra), "%d", wait);
    evhttp_add_header(evhttp_request_get_output_headers(ar->req), "Retry-After", ra);
    reply_error(ar, 429, "rate_limited",
                "too many requests for this API key; retry after Retry-After seconds", NULL);
    return -1;
}

/* Check the Bearer key; fills ar->tenant and returns 0, or replies
 * 401/429/503 and returns -1. Positive lookups are cached per thread. */
static int authenticate(struct api_req *ar) {
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(ar->req), "Authorization");
    if (!h) {
        reply_error(ar, 401, "unauthorized", "missing Authorization: Bearer <key> header", NULL);
        return -1;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        reply_error(ar, 401, "unauthorized", "Authorization must use the Bearer scheme", NULL);
        return -1;
    }
    const char *key = h + 7;
    while (*key == ' ')
        key++;
    size_t klen = strlen(key);
    while (klen && key[klen - 1] == ' ')
        klen--;
    if (klen == 0 || klen > 256) {
        reply_error(ar, 401, "unauthorized", "invalid API key", NULL);
        return -1;
    }
    char hash[65];
    obs_sha256_hex(key, klen, hash, 32);
    double now = obs_mono_s();
    /* Read before the lookup: a change notified while it runs makes the
     * entry stale at once. */
    uint64_t gen = atomic_load(&auth_gen);
    struct api_thread *t = ar->t;
    for (int i = 0; i < API_KEY_CACHE_SLOTS; i++) {
        struct api_key_slot *k = &t->keys[i];
        if (!k->hash[0] || strcmp(k->hash, hash) != 0) continue;
        if (k->valid_until > now && k->gen == gen && (k->expires_ms == 0 || obs_now_ms() < k->expires_ms)) {
            obs_strlcpy(ar->tenant, k->tenant, sizeof(ar->tenant));
            return rate_limited(ar, hash);
        }
        k->hash[0] = '\0'; /* stale: look it up again */
        k->valid_until = 0;
        break;
    }
    const char *p[] = {hash};
    PGresult *r = db_query(ar, API_SQL_AUTH, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        reply_error(ar, 401, "unauthorized", "invalid, revoked or expired API key", NULL);
        return -1;
    }
    obs_strlcpy(ar->tenant, PQgetvalue(r, 0, 0), sizeof(ar->tenant));
    int64_t expires_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    if (t->cfg->auth_cache_s > 0) {
        /* Replace an expired slot or the one expiring first. */
        int victim = 0;
        for (int i = 0; i < API_KEY_CACHE_SLOTS; i++)
            if (t->keys[i].valid_until < t->keys[victim].valid_until) victim = i;
        obs_strlcpy(t->keys[victim].hash, hash, sizeof(t->keys[victim].hash));
        obs_strlcpy(t->keys[victim].tenant, ar->tenant, sizeof(t->keys[victim].tenant));
        t->keys[victim].valid_until = now + (double)t->cfg->auth_cache_s;
        t->keys[victim].expires_ms = expires_ms;
        t->keys[victim].gen = gen;
    }
    return rate_limited(ar, hash);
}

/* ---- handlers --------------------------------------------------------------- */

static void handle_healthz(struct api_req *ar) { reply_json(ar, 200, "{\"status\":\"ok\"}"); }

static void handle_readyz(struct api_req *ar) {
    PGconn *c = db_get(ar->t);
    if (!c) {
        evhttp_add_header(evhttp_request_get_output_headers(ar->req), "Retry-After", "2");
        reply_json(ar, 503, "{\"status\":\"unavailable\",\"reason\":\"database unreachable\"}");
        return;
    }
    PGresult *r = PQexecParams(c, "SELECT max(version) FROM schema_migrations", 0, NULL, NULL, NULL, NULL, 0);
    char body[512];
    int expected = obs_schema_expected_version();
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            ar->t->conn = NULL;
            obs_metric_set(m_db_up, 0);
            snprintf(body, sizeof(body), "{\"status\":\"unavailable\",\"reason\":\"database unreachable\"}");
        } else {
            snprintf(body, sizeof(body),
                     "{\"status\":\"unavailable\",\"reason\":\"schema_migrations cannot be read (not "
                     "migrated?)\"}");
        }
        PQclear(r);
        evhttp_add_header(evhttp_request_get_output_headers(ar->req), "Retry-After", "2");
        reply_json(ar, 503, body);
        return;
    }
    int have = PQgetisnull(r, 0, 0) ? 0 : atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (have < expected) {
        snprintf(body, sizeof(body),
                 "{\"status\":\"unavailable\",\"reason\":\"schema at version %d, this build needs %d\","
                 "\"schema_version\":%d}",
                 have, expected, have);
        evhttp_add_header(evhttp_request_get_output_headers(ar->req), "Retry-After", "2");
        reply_json(ar, 503, body);
        return;
    }
    snprintf(body, sizeof(body), "{\"status\":\"ready\",\"schema_version\":%d}", have);
    reply_json(ar, 200, body);
}

static void handle_metrics(struct api_req *ar) {
    /* Probe the connection so observatory_api_db_up is current. */
    (void)db_get(ar->t);
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        reply_error(ar, 500, "internal", "out of memory", NULL);
        return;
    }
    obs_metrics_render(b);
    size_t len = evbuffer_get_length(b);
    char *text = (char *)evbuffer_pullup(b, -1);
    reply_raw(ar, 200, "text/plain; version=0.0.4", text, len);
    evbuffer_free(b);
}

/* Parse and validate the query string against allowed; replies 400 and
 * returns -1 on a problem. q must be freed by the caller. */
static int parse_query(struct api_req *ar, struct api_query *q, const char *const *allowed) {
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(ar->req);
    const char *raw = u ? evhttp_uri_get_query(u) : NULL;
    struct api_param_err err;
    if (api_query_parse(raw, q, &err) < 0 || api_query_check_allowed(q, allowed, &err) < 0) {
        reply_error(ar, 400, "bad_parameter", err.message, err.field);
        return -1;
    }
    return 0;
}

static void fmt_time_param(int has, int64_t ms, char *buf, size_t len, const char **out) {
    if (!has) {
        *out = NULL;
        return;
    }
    obs_format_iso8601_ms(ms, buf, len);
    *out = buf;
}

/* Append the rows' first column (JSON objects) to b as a JSON array body. */
static void append_rows(struct evbuffer *b, PGresult *r, int nrows) {
    for (int i = 0; i < nrows; i++) {
        if (i) evbuffer_add(b, ",", 1);
        evbuffer_add(b, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
    }
}

/* Reply with {"<name>":[rows...],"next_cursor":...}; the query returned up
 * to limit+1 rows with columns (json, cursor_ts_us, cursor_id). */
static void reply_page(struct api_req *ar, PGresult *r, const char *name, long limit, const char *kind) {
    int n = PQntuples(r);
    int shown = n > limit ? (int)limit : n;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "{\"%s\":[", name);
    append_rows(b, r, shown);
    evbuffer_add_printf(b, "],\"next_cursor\":");
    char cur[API_MAX_CURSOR_LEN + 1];
    struct api_cursor c;
    if (n > limit && shown > 0) {
        c.ts_us = strtoll(PQgetvalue(r, shown - 1, 1), NULL, 10);
        obs_strlcpy(c.id, PQgetvalue(r, shown - 1, 2), sizeof(c.id));
        if (api_cursor_encode(&c, kind, cur, sizeof(cur)) == 0)
            evbuffer_add_printf(b, "\"%s\"}", cur);
        else
            evbuffer_add_printf(b, "null}");
    } else {
        evbuffer_add_printf(b, "null}");
    }
    size_t len = evbuffer_get_length(b);
    reply_raw(ar, 200, "application/json", (const char *)evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
}

/* Parse the query string against allowed and the list parameters; replies
 * 400 and returns -1 on a problem. q must be freed by the caller. */
static int parse_list(struct api_req *ar, struct api_query *q, const char *const *allowed, const char *kind,
                      long def_limit, long max_limit, struct api_list_params *lp) {
    if (parse_query(ar, q, allowed) < 0) return -1;
    struct api_param_err err;
    if (api_list_params_parse(q, kind, def_limit, max_limit, lp, &err) < 0) {
        reply_error(ar, 400, "bad_parameter", err.message, err.field);
        return -1;
    }
    return 0;
}

/* The session_id query parameter (insights, search): NULL when absent; -1
 * (replied 400) when malformed. */
static int session_id_param(struct api_req *ar, const struct api_query *q, const char **out) {
    const char *v = api_query_get(q, "session_id");
    *out = v;
    if (v && (!*v || strlen(v) > API_MAX_ID_LEN)) {
        reply_error(ar, 400, "bad_parameter", "session_id must be 1 to 256 bytes", "session_id");
        return -1;
    }
    return 0;
}

/* Reply {"<prefix...>[rows...]}" for an unpaged list. */
static void reply_rows(struct api_req *ar, PGresult *r, const char *prefix) {
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, prefix, strlen(prefix));
    append_rows(b, r, PQntuples(r));
    evbuffer_add(b, "]}", 2);
    size_t len = evbuffer_get_length(b);
    reply_raw(ar, 200, "application/json", (const char *)evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
}

static void handle_sessions(struct api_req *ar) {
    static const char *const allowed[] = {"since",      "until", "project",      "limit",      "cursor",
                                          "user",       "host",  "model",        "git_branch", "min_cost",
                                          "has_errors", "sort",  "has_insights", NULL};
    static const char *const sql[API_SORT_N] = {API_SQL_SESSIONS, API_SQL_SESSIONS_END, API_SQL_SESSIONS_COST,
                                                API_SQL_SESSIONS_TOKENS, API_SQL_SESSIONS_DURATION};
    struct api_query q;
    struct api_list_params lp;
    if (parse_list(ar, &q, allowed, "s", 50, 500, &lp) < 0) goto out;
    if (authenticate(ar) < 0) goto out;
    char since[32], until[32], cts[32], lim[24];
    const char *p[14];
    p[0] = ar->tenant;
    fmt_time_param(lp.has_since, lp.since_ms, since, sizeof(since), &p[1]);
    fmt_time_param(lp.has_until, lp.until_ms, until, sizeof(until), &p[2]);
    p[3] = lp.project;
    snprintf(cts, sizeof(cts), "%" PRId64, lp.cursor.ts_us);
    p[4] = lp.has_cursor ? cts : NULL;
    p[5] = lp.has_cursor ? lp.cursor.id : NULL;
    snprintf(lim, sizeof(lim), "%ld", lp.limit + 1);
    p[6] = lim;
    p[7] = lp.user;
    p[8] = lp.host;
    p[9] = lp.model;
    p[10] = lp.git_branch;
    p[11] = lp.min_cost;
    p[12] = lp.has_errors;
    p[13] = lp.has_insights;
    PGresult *r = db_query(ar, sql[lp.sort], 14, p);
    if (!r) goto out;
    reply_page(ar, r, "sessions", lp.limit, api_sort_cursor_kind(lp.sort));
    PQclear(r);
out:
    api_query_free(&q);
}

/* {"session": SESSION, "rollups": {...}}: the session row with its small
 * roll-ups, then tool calls and sub-agents bounded by the session's own
 * time span (see API_SQL_SESSION_PARTS). */
static void handle_session(struct api_req *ar, const char *id) {
    static const char *const allowed[] = {NULL};
    struct api_query q;
    PGresult *r = NULL, *r2 = NULL;
    if (parse_query(ar, &q, allowed) < 0) goto out;
    if (authenticate(ar) < 0) goto out;
    const char *p[] = {ar->tenant, id, NULL, NULL};
    r = db_query(ar, API_SQL_SESSION, 2, p);
    if (!r) goto out;
    if (PQntuples(r) != 1) {
        reply_error(ar, 404, "not_found", "no such session", NULL);
        goto out;
    }
    p[2] = PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2);
    p[3] = PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3);
    r2 = db_query(ar, API_SQL_SESSION_PARTS, 4, p);
    if (!r2) goto out;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "{\"session\":", 11);
    evbuffer_add(b, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    evbuffer_add(b, ",\"rollups\":{\"tools\":", 20);
    evbuffer_add(b, PQgetvalue(r2, 0, 0), (size_t)PQgetlength(r2, 0, 0));
    evbuffer_add(b, ",\"subagents\":", 13);
    evbuffer_add(b, PQgetvalue(r2, 0, 1), (size_t)PQgetlength(r2, 0, 1));
    evbuffer_add(b, ",", 1);
    /* the rest of the rollups object, after its opening brace */
    evbuffer_add(b, PQgetvalue(r, 0, 1) + 1, (size_t)PQgetlength(r, 0, 1) - 1);
    evbuffer_add(b, "}", 1);
    size_t len = evbuffer_get_length(b);
    reply_raw(ar, 200, "application/json", (const char *)evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
out:
    if (r) PQclear(r);
    if (r2) PQclear(r2);
    api_query_free(&q);
}

/* /api/v1/sessions/{id}/events and /tool_calls: a session's timeline, oldest
 * first, keyset-paged by (event_time, id). 404 for an unknown session. */
static void handle_session_sub(struct api_req *ar, const char *id, int tool_calls) {
    static const char *const allowed[] = {"limit", "cursor", NULL};
    const char *kind = tool_calls ? "t" : "e";
    struct api_query q;
    if (parse_query(ar, &q, allowed) < 0) goto out;
    struct api_list_params lp;
    struct api_param_err err;
    if (api_list_params_parse(&q, kind, 100, 1000, &lp, &err) < 0) {
        reply_error(ar, 400, "bad_parameter", err.message, err.field);
        goto out;
    }
    if (authenticate(ar) < 0) goto out;
    const char *p0[] = {ar->tenant, id};
    PGresult *r = db_query(ar, API_SQL_SESSION_EXISTS, 2, p0);
    if (!r) goto out;
    int exists = PQntuples(r) == 1;
    PQclear(r);
    if (!exists) {
        reply_error(ar, 404, "not_found", "no such session", NULL);
        goto out;
    }
    char cts[32], lim[24];
    snprintf(cts, sizeof(cts), "%" PRId64, lp.cursor.ts_us);
    snprintf(lim, sizeof(lim), "%ld", lp.limit + 1);
    const char *p[] = {ar->tenant, id, lp.has_cursor ? cts : NULL, lp.has_cursor ? lp.cursor.id : NULL, lim};
    r = db_query(ar, tool_calls ? API_SQL_TOOL_CALLS : API_SQL_EVENTS, 5, p);
    if (!r) goto out;
    reply_page(ar, r, tool_calls ? "tool_calls" : "events", lp.limit, kind);
    PQclear(r);
out:
    api_query_free(&q);
}

/* Whether ms is midnight UTC. */
static int utc_midnight(int64_t ms) { return ms % 86400000 == 0; }

/* /api/v1/usage: buckets by day|week (in tz) or project|model|user|host.
 * daily_usage answers when the buckets are UTC and the window is whole UTC
 * days (its per-day totals usage_day when the buckets are days or weeks and
 * nothing is filtered); otherwise message_usage is aggregated (same daily
 * rule). */
static void handle_usage(struct api_req *ar) {
    static const char *const allowed[] = {"since", "until", "project", "group_by", "tz",
                                          "user",  "host",  "model",   NULL};
    struct api_query q;
    struct api_list_params lp;
    if (parse_list(ar, &q, allowed, NULL, 0, 0, &lp) < 0) goto out;
    if (authenticate(ar) < 0) goto out;
    const char *group = lp.group_by ? lp.group_by : "day";
    const char *tz = lp.tz ? lp.tz : "UTC";
    int utc = strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0;
    int daily = (utc || (strcmp(group, "day") && strcmp(group, "week"))) &&
                (!lp.has_since || utc_midnight(lp.since_ms)) && (!lp.has_until || utc_midnight(lp.until_ms));
    char since[32], until[32];
    const char *p[9];
    p[0] = ar->tenant;
    fmt_time_param(lp.has_since, lp.since_ms, since, sizeof(since), &p[1]);
    fmt_time_param(lp.has_until, lp.until_ms, until, sizeof(until), &p[2]);
    if (daily) { /* dates: the first 10 characters of the ISO time */
        since[10] = until[10] = '\0';
    }
    p[3] = lp.project;
    p[4] = group;
    p[5] = lp.user;
    p[6] = lp.host;
    p[7] = lp.model;
    p[8] = tz;
    ar->value_field = "tz";
    /* day/week buckets of every project, model, user and host: the per-day totals */
    int totals = daily && (!strcmp(group, "day") || !strcmp(group, "week")) && !lp.project && !lp.user &&
                 !lp.host && !lp.model;
    const char *pt[4] = {p[0], p[1], p[2], group};
    PGresult *r = totals ? db_query(ar, API_SQL_USAGE_DAY, 4, pt)
                         : db_query(ar, daily ? API_SQL_USAGE_DAILY : API_SQL_USAGE_EVENTS, daily ? 8 : 9, p);
    if (!r) goto out;
    char prefix[160];
    snprintf(prefix, sizeof(prefix), "{\"group_by\":\"%s\",\"tz\":\"%s\",\"buckets\":[", group, tz);
    reply_rows(ar, r, prefix);
    PQclear(r);
out:
    api_query_free(&q);
}

/* Floor of ms to a UTC midnight (ms may be negative). */
static int64_t utc_day_floor(int64_t ms) {
    int64_t r = ms % 86400000;
    return ms - (r < 0 ? r + 86400000 : r);
}

/* /api/v1/tools: per tool name over a time window. The whole UTC days of
 * the window come from tool_daily (migrations/0041), the cut days at its
 * edges from tool_calls; a session filter (project, user, host) reads
 * tool_calls only (tool_daily has no session dimensions). */
static void handle_tools(struct api_req *ar) {
    static const char *const allowed[] = {"since", "until", "project", "user", "host", NULL};
    struct api_query q;
    struct api_list_params lp;
    if (parse_list(ar, &q, allowed, NULL, 0, 0, &lp) < 0) goto out;
    if (authenticate(ar) < 0) goto out;
    char since[32], until[32], d0[32], d1[32];
    const char *p[8];
    p[0] = ar->tenant;
    fmt_time_param(lp.has_since, lp.since_ms, since, sizeof(since), &p[1]);
    fmt_time_param(lp.has_until, lp.until_ms, until, sizeof(until), &p[2]);
    p[3] = lp.project;
    p[4] = lp.user;
    p[5] = lp.host;
    p[6] = p[7] = NULL;
    if (!lp.project && !lp.user && !lp.host) {
        int64_t first = 0, end = 0;
        if (lp.has_since) {
            first = utc_day_floor(lp.since_ms);
            if (first < lp.since_ms) first += 86400000;
        }
        if (lp.has_until) end = utc_day_floor(lp.until_ms);
        if (!lp.has_since || !lp.has_until || first < end) {
            if (lp.has_since)
                obs_format_iso8601_ms(first, d0, sizeof(d0));
            else
                obs_strlcpy(d0, "-infinity", sizeof(d0));
            if (lp.has_until)
                obs_format_iso8601_ms(end, d1, sizeof(d1));
            else
                obs_strlcpy(d1, "infinity", sizeof(d1));
            p[6] = d0;
            p[7] = d1;
        }
    }
    /* no cut day, no session filter: tool_daily alone (its days become $2/$3) */
    int whole =
        p[6] && (!lp.has_since || utc_midnight(lp.since_ms)) && (!lp.has_until || utc_midnight(lp.until_ms));
    const char *pd[3] = {p[0], p[6], p[7]};
    const char *pc[5] = {p[0], p[1], p[2], p[6], p[7]};
    PGresult *r = whole                                ? db_query(ar, API_SQL_TOOLS_DAYS, 3, pd)
                  : (lp.project || lp.user || lp.host) ? db_query(ar, API_SQL_TOOLS_SESS, 6, p)
                                                       : db_query(ar, API_SQL_TOOLS, 5, pc);
    if (!r) goto out;
    reply_rows(ar, r, "{\"tools\":[");
    PQclear(r);
out:
    api_query_free(&q);
}

/* /api/v1/projects and /api/v1/users: session roll-ups per project / user. */
static void handle_grouped(struct api_req *ar, int users) {
    static const char *const allowed[] = {"since", "until", NULL};
    struct api_query q;
    struct api_list_params lp;
    if (parse_list(ar, &q, allowed, NULL, 0, 0, &lp) < 0) goto out;
    if (authenticate(ar) < 0) goto out;
    char since[32], until[32];
    const char *p[3];
    p[0] = ar->tenant;
    fmt_time_param(lp.has_since, lp.since_ms, since, sizeof(since), &p[1]);
    fmt_time_param(lp.has_until, lp.until_ms, until, sizeof(until), &p[2]);
    PGresult *r = db_query(ar, users ? API_SQL_USERS : API_SQL_PROJECTS, 3, p);
    if (!r) goto out;
    reply_rows(ar, r, users ? "{\"users\":[" : "{\"projects\":[");
    PQclear(r);
out:
    api_query_free(&q);
}

/* /api/v1/insights (newest first) and /api/v1/search (full text, newest
 * first): keyset-paged by (event_time, id). */
static void handle_paged_events(struct api_req *ar, int search) {
    static const char *const allowed_i[] = {"since", "until",  "kind",       "severity",
                                            "limit", "cursor", "session_id", NULL};
    static const char *const allowed_s[] = {"q",     "since",  "until",      "project",
                                            "limit", "cursor", "session_id", NULL};
    const char *kind = search ? "q" : "i";
    struct api_query q;
    struct api_list_params lp;
    const char *sid = NULL;
    if (parse_list(ar, &q, search ? allowed_s : allowed_i, kind, search ? 20 : 50, search ? 100 : 500, &lp) <
        0)
        goto out;
    if (session_id_param(ar, &q, &sid) < 0) goto out;
    if (search && !lp.q) {
        reply_error(ar, 400, "bad_parameter", "q is required", "q");
        goto out;
    }
    if (authenticate(ar) < 0) goto out;
    char since[32], until[32], cts[32], lim[24];
    const char *p[9];
    p[0] = ar->tenant;
    int o = search ? 2 : 1; /* search has q at $2 */
    if (search) p[1] = lp.q;
    fmt_time_param(lp.has_since, lp.since_ms, since, sizeof(since), &p[o]);
    fmt_time_param(lp.has_until, lp.until_ms, until, sizeof(until), &p[o + 1]);
    if (search) {
        p[4] = lp.project;
    } else {
        p[3] = lp.kind;
        p[4] = lp.severity;
    }
    snprintf(cts, sizeof(cts), "%" PRId64, lp.cursor.ts_us);
    p[5] = lp.has_cursor ? cts : NULL;
    p[6] = lp.has_cursor ? lp.cursor.id : NULL;
    snprintf(lim, sizeof(lim), "%ld", lp.limit + 1);
    p[7] = lim;
    p[8] = sid;
    PGresult *r = db_query(ar, search ? API_SQL_SEARCH : API_SQL_INSIGHTS, 9, p);
    if (!r) goto out;
    reply_page(ar, r, search ? "results" : "insights", lp.limit, kind);
    PQclear(r);
out:
    api_query_free(&q);
}

/* ---- routing ---------------------------------------------------------------- */

/* Honour a sane X-Request-Id or make one. */
static void set_request_id(struct api_req *ar) {
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(ar->req), "X-Request-Id");
    if (h) {
        size_t n = strlen(h);
        int ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
            if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
                  (h[i] >= '0' && h[i] <= '9') || h[i] == '-' || h[i] == '_' || h[i] == '.'))
                ok = 0;
        if (ok) {
            obs_strlcpy(ar->request_id, h, sizeof(ar->request_id));
            return;
        }
    }
    /* splitmix64 over a per-thread seed: unique and cheap. */
    uint64_t z = (ar->t->rid_seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    snprintf(ar->request_id, sizeof(ar->request_id), "%016" PRIx64, z);
}

/* Decode one path segment (percent-escapes); -1 when empty, too long, or
 * containing NUL or '/'. */
static int decode_segment(const char *s, size_t n, char *out, size_t outlen) {
    if (n == 0 || n > 3 * API_MAX_ID_LEN) return -1;
    char tmp[3 * API_MAX_ID_LEN + 1];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    size_t dlen = 0;
    char *d = evhttp_uridecode(tmp, 0, &dlen);
    if (!d) return -1;
    int bad = dlen == 0 || dlen > API_MAX_ID_LEN || dlen >= outlen || strlen(d) != dlen || strchr(d, '/');
    if (!bad) memcpy(out, d, dlen + 1);
    free(d);
    return bad ? -1 : 0;
}

/* Runs on the worker thread that accepted the connection. */
static void on_request(struct evhttp_request *req, void *arg) {
    struct api_req ar = {.req = req, .t = arg, .route = "other", .start = obs_mono_s()};
    set_request_id(&ar);
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    if (!path || !*path) path = "/";
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

    enum {
        R_NONE,
        R_HEALTH,
        R_READY,
        R_METRICS,
        R_SESSIONS,
        R_SESSION,
        R_EVENTS,
        R_TOOL_CALLS,
        R_USAGE,
        R_TOOLS,
        R_PROJECTS,
        R_USERS,
        R_INSIGHTS,
        R_SEARCH
    } rt = R_NONE;
    char id[API_MAX_ID_LEN + 1] = "";
    static const char sp[] = "/api/v1/sessions/";
    if (strcmp(path, "/healthz") == 0)
        rt = R_HEALTH, ar.route = "/healthz";
    else if (strcmp(path, "/readyz") == 0)
        rt = R_READY, ar.route = "/readyz";
    else if (strcmp(path, "/metrics") == 0)
        rt = R_METRICS, ar.route = "/metrics";
    else if (strcmp(path, "/api/v1/sessions") == 0)
        rt = R_SESSIONS, ar.route = "/api/v1/sessions";
    else if (strcmp(path, "/api/v1/usage") == 0)
        rt = R_USAGE, ar.route = "/api/v1/usage";
    else if (strcmp(path, "/api/v1/tools") == 0)
        rt = R_TOOLS, ar.route = "/api/v1/tools";
    else if (strcmp(path, "/api/v1/projects") == 0)
        rt = R_PROJECTS, ar.route = "/api/v1/projects";
    else if (strcmp(path, "/api/v1/users") == 0)
        rt = R_USERS, ar.route = "/api/v1/users";
    else if (strcmp(path, "/api/v1/insights") == 0)
        rt = R_INSIGHTS, ar.route = "/api/v1/insights";
    else if (strcmp(path, "/api/v1/search") == 0)
        rt = R_SEARCH, ar.route = "/api/v1/search";
    else if (strncmp(path, sp, sizeof(sp) - 1) == 0) {
        const char *seg = path + sizeof(sp) - 1;
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (decode_segment(seg, n, id, sizeof(id)) == 0) {
            if (!slash)
                rt = R_SESSION, ar.route = "/api/v1/sessions/{id}";
            else if (strcmp(slash, "/events") == 0)
                rt = R_EVENTS, ar.route = "/api/v1/sessions/{id}/events";
            else if (strcmp(slash, "/tool_calls") == 0)
                rt = R_TOOL_CALLS, ar.route = "/api/v1/sessions/{id}/tool_calls";
        }
    }
    if (rt == R_NONE) {
        reply_error(&ar, 404, "not_found", "no such route", NULL);
        return;
    }
    const char *origin = ar.t->cfg->cors_allow_origin;
    if (cmd == EVHTTP_REQ_OPTIONS && origin && origin[0]) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
        evhttp_add_header(h, "Access-Control-Allow-Headers", "Authorization, X-Request-Id");
        evhttp_add_header(h, "Access-Control-Max-Age", "600");
        reply_raw(&ar, 204, "application/json", NULL, 0);
        return;
    }
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        reply_error(&ar, 405, "method_not_allowed", "only GET is supported on this route", NULL);
        return;
    }
    switch (rt) {
    case R_HEALTH:
        handle_healthz(&ar);
        break;
    case R_READY:
        handle_readyz(&ar);
        break;
    case R_METRICS:
        handle_metrics(&ar);
        break;
    case R_SESSIONS:
        handle_sessions(&ar);
        break;
    case R_SESSION:
        handle_session(&ar, id);
        break;
    case R_EVENTS:
        handle_session_sub(&ar, id, 0);
        break;
    case R_TOOL_CALLS:
        handle_session_sub(&ar, id, 1);
        break;
    case R_USAGE:
        handle_usage(&ar);
        break;
    case R_TOOLS:
        handle_tools(&ar);
        break;
    case R_PROJECTS:
        handle_grouped(&ar, 0);
        break;
    case R_USERS:
        handle_grouped(&ar, 1);
        break;
    case R_INSIGHTS:
        handle_paged_events(&ar, 0);
        break;
    case R_SEARCH:
        handle_paged_events(&ar, 1);
        break;
    default:
        break;
    }
    if (!ar.replied) reply_error(&ar, 500, "internal", "internal error", NULL);
}

/* ---- threads and shutdown --------------------------------------------------- */

/* Timer on a stopping thread: leave the loop once replies are written. */
static void on_drain(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct api_thread *t = arg;
    if (t->in_flight == 0 || obs_mono_s() > t->drain_deadline) {
        if (t->in_flight)
            obs_warn("http", "thread %d: %d replies unfinished at shutdown", t->index, t->in_flight);
        event_base_loopexit(t->base, NULL);
    }
}

/* Activated by the main thread; runs on the worker thread. */
static void on_stop(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct api_thread *t = arg;
    if (t->bound) {
        /* Frees the listener; the shared fd stays open (no CLOSE_ON_FREE). */
        evhttp_del_accept_socket(t->http, t->bound);
        t->bound = NULL;
        t->lev = NULL;
    }
    t->drain_deadline = obs_mono_s() + 5.0;
    struct timeval tv = {0, 20000};
    event_add(t->drain_ev, &tv);
}

static void *thread_main(void *arg) {
    struct api_thread *t = arg;
    event_base_loop(t->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void thread_destroy(struct api_thread *t) {
    if (!t) return;
    if (t->http) evhttp_free(t->http); /* also frees a still-bound listener */
    if (t->stop_ev) event_free(t->stop_ev);
    if (t->drain_ev) event_free(t->drain_ev);
    if (t->base) event_base_free(t->base);
    if (t->conn) PQfinish(t->conn);
    memset(t, 0, sizeof(*t));
}

static int thread_init(struct api_thread *t, int index, const struct api_config *cfg, evutil_socket_t fd) {
    t->index = index;
    t->cfg = cfg;
    uint64_t seed = (uint64_t)obs_now_ms() ^ ((uint64_t)getpid() << 32) ^ ((uint64_t)index << 56);
    FILE *u = fopen("/dev/urandom", "rb");
    if (u) {
        if (fread(&seed, sizeof(seed), 1, u) != 1) seed ^= 0x5bd1e995;
        fclose(u);
    }
    t->rid_seed = seed;
    if (!(t->base = event_base_new())) return -1;
    if (!(t->http = evhttp_new(t->base))) return -1;
    evhttp_set_allowed_methods(t->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    evhttp_set_max_headers_size(t->http, (ev_ssize_t)cfg->max_header_bytes);
    evhttp_set_max_body_size(t->http, (ev_ssize_t)cfg->max_body_bytes);
    evhttp_set_timeout(t->http, (int)cfg->timeout_s);
    evhttp_set_gencb(t->http, on_request, t);
    if (!(t->stop_ev = event_new(t->base, -1, 0, on_stop, t))) return -1;
    if (!(t->drain_ev = event_new(t->base, -1, EV_PERSIST, on_drain, t))) return -1;
    t->lev = evconnlistener_new(t->base, NULL, NULL, LEV_OPT_REUSEABLE, 0, fd);
    if (!t->lev) return -1;
    t->bound = evhttp_bind_listener(t->http, t->lev);
    if (!t->bound) {
        evconnlistener_free(t->lev);
        t->lev = NULL;
        return -1;
    }
    return 0;
}

/* Bind host:port; returns the listening non-blocking socket or -1. */
static evutil_socket_t listen_on(const char *spec, int *bound_port) {
    char host[256];
    int port;
    if (obs_split_hostport(spec, host, sizeof(host), &port) < 0) {
        obs_error("http", "bad http.listen '%s'", spec);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    int rc = getaddrinfo(host[0] ? host : NULL, ps, &hints, &ai);
    if (rc != 0) {
        obs_error("http", "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    evutil_socket_t fd = socket(ai->ai_family, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        /* Accepted sockets inherit TCP_NODELAY (Linux): without it a reply
         * larger than one segment ends with a small one that Nagle holds
         * until the client's delayed ACK, ~40 ms per keep-alive request. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0 ||
        evutil_make_socket_nonblocking(fd) < 0) {
        obs_error("http", "cannot listen on %s: %s", spec, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    *bound_port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

/* ---- key-change listener (main thread) -------------------------------------- */

/* One LISTEN observatory_api_keys connection, driven by the main thread's
 * loop: a read event on its socket and a one-second timer that reconnects
 * (1 s, then doubling up to 8 s while it fails) and pings it every 10 s so
 * that a silently dead connection is noticed. While it is down, cached keys
 * fall back to the auth.cache_s bound (ADR 0033). */
#define API_LISTEN_CHANNEL "observatory_api_keys"
#define API_LISTEN_PING_S 10.0

struct api_listener {
    struct event_base *base;      /* the main thread's loop */
    const struct api_config *cfg; /* borrowed settings */
    PGconn *conn;                 /* the LISTEN connection or NULL */
    struct event *read_ev;        /* readable socket of conn */
    struct event *tick_ev;        /* 1 s timer: reconnect, ping */
    double next_connect;          /* obs_mono_s() of the next attempt */
    double backoff;               /* seconds until the attempt after */
    double last_ping;             /* obs_mono_s() of the last ping sent */
    int ping_pending;             /* a ping's results are not all read */
    int warned;                   /* the current outage was logged */
};

static void listener_down(struct api_listener *l, const char *why) {
    if (l->read_ev) {
        event_free(l->read_ev);
        l->read_ev = NULL;
    }
    if (l->conn) {
        PQfinish(l->conn);
        l->conn = NULL;
    }
    l->ping_pending = 0;
    obs_metric_set(m_auth_listen_up, 0);
    obs_warn("auth",
             "key-change listener lost (%s): revoked or expired keys may stay valid for up to auth.cache_s = "
             "%ld s until it reconnects",
             why, l->cfg->auth_cache_s);
    l->warned = 1;
    l->backoff = 1.0;
    l->next_connect = obs_mono_s() + l->backoff;
}

static void on_listener_read(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct api_listener *l = arg;
    char err[512];
    if (!PQconsumeInput(l->conn) || PQstatus(l->conn) != CONNECTION_OK) {
        obs_pg_errmsg(l->conn, err, sizeof(err));
        listener_down(l, err[0] ? err : "connection closed");
        return;
    }
    while (l->ping_pending && !PQisBusy(l->conn)) {
        PGresult *r = PQgetResult(l->conn);
        if (!r) {
            l->ping_pending = 0;
            break;
        }
        PQclear(r);
    }
    int n = 0;
    PGnotify *nt;
    while ((nt = PQnotifies(l->conn)) != NULL) {
        n++;
        PQfreemem(nt);
    }
    if (n) {
        atomic_fetch_add(&auth_gen, 1);
        obs_metric_add(m_auth_invalidations, (uint64_t)n);
        obs_debug("auth", "API keys changed (%d notifications): cached keys dropped", n);
    }
}

/* libpq's messages outside a query (e.g. "terminating connection due to
 * administrator command") as log lines instead of raw stderr. */
static void listener_notice(void *arg, const char *message) {
    (void)arg;
    char m[512];
    obs_strlcpy(m, message, sizeof(m));
    for (char *p = m; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    obs_info("auth", "key-change listener: %s", m);
}

static void listener_connect(struct api_listener *l) {
    char err[512];
    PGconn *c = obs_pg_connect(l->cfg->database_url, "obs-api-listen", (int)l->cfg->connect_timeout_s, err,
                               sizeof(err));
    if (c) PQsetNoticeProcessor(c, listener_notice, NULL);
    if (c && obs_pg_exec(c, "LISTEN " API_LISTEN_CHANNEL, err, sizeof(err)) < 0) {
        PQfinish(c);
        c = NULL;
    }
    if (c && PQsetnonblocking(c, 1) != 0) {
        obs_pg_errmsg(c, err, sizeof(err));
        PQfinish(c);
        c = NULL;
    }
    if (c && !(l->read_ev = event_new(l->base, PQsocket(c), EV_READ | EV_PERSIST, on_listener_read, l))) {
        snprintf(err, sizeof(err), "out of memory");
        PQfinish(c);
        c = NULL;
    }
    if (!c) {
        if (!l->warned)
            obs_warn("auth",
                     "key-change listener cannot connect (%s): revoked or expired keys may stay valid for up "
                     "to auth.cache_s = %ld s; retrying",
                     err, l->cfg->auth_cache_s);
        l->warned = 1;
        l->next_connect = obs_mono_s() + l->backoff;
        if (l->backoff < 8.0) l->backoff *= 2.0;
        return;
    }
    event_add(l->read_ev, NULL);
    l->conn = c;
    l->last_ping = obs_mono_s();
    l->backoff = 1.0;
    /* Notifications sent while nobody listened are lost: drop every cached
     * key once now that new ones arrive. */
    atomic_fetch_add(&auth_gen, 1);
    obs_metric_set(m_auth_listen_up, 1);
    obs_info("auth", "%s: listening for API key changes (channel " API_LISTEN_CHANNEL ")",
             l->warned ? "key-change listener reconnected" : "key-change listener connected");
    l->warned = 0;
}

static void on_listener_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct api_listener *l = arg;
    double now = obs_mono_s();
    if (!l->conn) {
        if (now >= l->next_connect) listener_connect(l);
        return;
    }
    if (now - l->last_ping < API_LISTEN_PING_S) return;
    if (l->ping_pending) {
        listener_down(l, "no answer to a ping within 10 s");
        return;
    }
    if (!PQsendQuery(l->conn, "SELECT 1") || PQflush(l->conn) < 0) {
        char err[512];
        obs_pg_errmsg(l->conn, err, sizeof(err));
        listener_down(l, err[0] ? err : "ping failed");
        return;
    }
    l->ping_pending = 1;
    l->last_ping = now;
}

static int listener_start(struct api_listener *l, struct event_base *base, const struct api_config *cfg) {
    memset(l, 0, sizeof(*l));
    l->base = base;
    l->cfg = cfg;
    l->backoff = 1.0;
    if (cfg->auth_cache_s <= 0) return 0; /* nothing is cached: nothing to invalidate */
    if (!(l->tick_ev = event_new(base, -1, EV_PERSIST, on_listener_tick, l))) return -1;
    struct timeval tv = {1, 0};
    event_add(l->tick_ev, &tv);
    listener_connect(l);
    return 0;
}

static void listener_stop(struct api_listener *l) {
    if (l->tick_ev) event_free(l->tick_ev);
    if (l->read_ev) event_free(l->read_ev);
    if (l->conn) PQfinish(l->conn);
    memset(l, 0, sizeof(*l));
}

struct api_main_ctx {
    struct event_base *base;    /* the main thread's loop (signals only) */
    struct api_thread *threads; /* array of n */
    int n;                      /* threads started */
    const char *signame;        /* which signal stopped us */
};

/* Runs on the main thread when SIGTERM/SIGINT arrives. */
static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    struct api_main_ctx *mc = arg;
    mc->signame = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    for (int i = 0; i < mc->n; i++)
        event_active(mc->threads[i].stop_ev, 0, 0);
    event_base_loopbreak(mc->base);
}

int api_server_run(const struct api_config *cfg) {
    int rc = -1;
    evutil_socket_t fd = -1;
    struct api_main_ctx mc = {0};
    struct event *sigterm = NULL, *sigint = NULL;
    struct api_listener listener = {0};
    if (evthread_use_pthreads() < 0) {
        obs_error("http", "libevent has no pthreads support");
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    m_db_up = obs_metrics_gauge("observatory_api_db_up", NULL, "1 when the last database contact succeeded");
    m_auth_listen_up =
        obs_metrics_gauge("observatory_api_auth_listener_up", NULL,
                          "1 while the LISTEN connection for API key changes is up (0: revoked "
                          "keys may stay valid for up to auth.cache_s)");
    m_auth_invalidations =
        obs_metrics_counter("observatory_api_auth_invalidations_total", NULL,
                            "API key changes notified by the database (cached keys dropped)");
    obs_metrics_counter("observatory_api_requests_total", "route=\"/healthz\",status=\"200\"",
                        "HTTP requests by route and status");
    int port = 0;
    if ((fd = listen_on(cfg->listen, &port)) < 0) goto out;
    mc.base = event_base_new();
    mc.threads = calloc((size_t)cfg->threads, sizeof(*mc.threads));
    if (!mc.base || !mc.threads) goto out;
    sigterm = evsignal_new(mc.base, SIGTERM, on_signal, &mc);
    sigint = evsignal_new(mc.base, SIGINT, on_signal, &mc);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0) goto out;
    if (listener_start(&listener, mc.base, cfg) < 0) goto out;
    for (int i = 0; i < cfg->threads; i++) {
        if (thread_init(&mc.threads[i], i, cfg, fd) < 0) {
            obs_error("http", "cannot set up thread %d", i);
            thread_destroy(&mc.threads[i]);
            goto stop;
        }
        if (pthread_create(&mc.threads[i].tid, NULL, thread_main, &mc.threads[i]) != 0) {
            obs_error("http", "cannot start thread %d", i);
            thread_destroy(&mc.threads[i]);
            goto stop;
        }
        mc.n++;
    }
    char host[256];
    int p0;
    if (obs_split_hostport(cfg->listen, host, sizeof(host), &p0) < 0) host[0] = '\0';
    obs_info("http", "listening on %s:%d with %ld threads (version %s)", host, port, cfg->threads,
             OBS_VERSION);
    event_base_dispatch(mc.base);
    obs_info("http", "%s: stopping; finishing in-flight requests", mc.signame ? mc.signame : "stop");
    rc = 0;
stop:
    for (int i = 0; i < mc.n; i++)
        event_active(mc.threads[i].stop_ev, 0, 0);
    for (int i = 0; i < mc.n; i++) {
        pthread_join(mc.threads[i].tid, NULL);
        thread_destroy(&mc.threads[i]);
    }
    if (rc == 0) obs_info("http", "stopped");
out:
    listener_stop(&listener);
    if (sigterm) event_free(sigterm);
    if (sigint) event_free(sigint);
    if (mc.base) event_base_free(mc.base);
    free(mc.threads);
    if (fd >= 0) close(fd);
    return rc;
}
