/* workers/main.c - obs-worker: a stateless Kafka consumer group member that
 * turns transcript records into rows (see docs/workers.md).
 *
 * Main thread: poll a batch (batch.max_records / batch.max_wait_ms), decode
 * and parse it, write it in one PostgreSQL transaction (wrk_store), publish
 * poison records to the DLQ, COMMIT, and only then store the batch's offsets
 * (enable.auto.offset.store=false; auto-commit sends them). PostgreSQL down:
 * the assignment is paused and polled (group membership stays alive) while
 * the store reconnects with capped backoff; then the same batch is retried.
 * Read-ahead: before a batch goes to PostgreSQL, the records already
 * fetched (up to batch.max_records, no wait) are taken as the next batch and
 * decoded and parsed by a helper thread while the main thread waits on
 * PostgreSQL; a batch that is dropped (revoke, stop) drops the next one too.
 * The admin thread (obs_admin) serves /healthz /readyz /metrics. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "obs_admin.h"
#include "obs_codec.h"
#include "obs_config.h"
#include "obs_kafka.h"
#include "obs_log.h"
#include "obs_metrics.h"
#include "obs_util.h"
#include "wrk_store.h"
#include "wrk_usage.h"

#define PROG "obs-worker"

/* ---- configuration ------------------------------------------------------------- */

struct wrk_config {
    char *bootstrap;    /* kafka.bootstrap */
    char *topic;        /* kafka.topic */
    char *dlq_topic;    /* kafka.dlq_topic */
    char *group;        /* kafka.group */
    char *database_url; /* database.url */
    long max_records;   /* batch.max_records */
    long max_wait_ms;   /* batch.max_wait_ms */
    char *prices_path;  /* prices.path */
    char *admin_listen; /* admin.listen */
    char *log_level;    /* log.level */
};

static const struct obs_cfg_opt wrk_opts[] = {
    {"kafka.bootstrap", OBS_CFG_STR, "127.0.0.1:19092", offsetof(struct wrk_config, bootstrap), 0, 0,
     "Kafka bootstrap servers"},
    {"kafka.topic", OBS_CFG_STR, "observatory.session-events", offsetof(struct wrk_config, topic), 0, 0,
     "topic to consume"},
    {"kafka.dlq_topic", OBS_CFG_STR, "observatory.session-events.dlq", offsetof(struct wrk_config, dlq_topic),
     0, 0, "dead-letter topic for poison records"},
    {"kafka.group", OBS_CFG_STR, "observatory-workers", offsetof(struct wrk_config, group), 0, 0,
     "consumer group id"},
    {"database.url", OBS_CFG_STR, NULL, offsetof(struct wrk_config, database_url), 0, 0,
     "PostgreSQL connection URL (required)"},
    {"batch.max_records", OBS_CFG_INT, "4000", offsetof(struct wrk_config, max_records), 1, 100000,
     "records per transaction at most"},
    {"batch.max_wait_ms", OBS_CFG_INT, "200", offsetof(struct wrk_config, max_wait_ms), 1, 60000,
     "how long a batch waits to fill up after its first record"},
    {"prices.path", OBS_CFG_STR, "common/model_prices.json", offsetof(struct wrk_config, prices_path), 0, 0,
     "model price table (missing: every cost is 0, price_version 'unpriced')"},
    {"admin.listen", OBS_CFG_STR, "127.0.0.1:9102", offsetof(struct wrk_config, admin_listen), 0, 0,
     "host:port of /healthz /readyz /metrics (off disables)"},
    {"log.level", OBS_CFG_STR, "info", offsetof(struct wrk_config, log_level), 0, 0, "debug|info|warn|error"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

/* ---- process state ---------------------------------------------------------------- */

static volatile sig_atomic_t g_stop; /* SIGTERM/SIGINT seen */
static atomic_int g_joined;          /* an assignment was received */
static atomic_int g_db_up;           /* the store is connected */
static int g_revoked;                /* partitions revoked since the batch started (main thread) */
static atomic_int g_dlq_failed;      /* DLQ deliveries that failed */

static struct obs_metric *m_records, *m_inserted, *m_dupes, *m_dlq, *m_db_errors, *m_batch, *m_db_up;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static int ready_cb(void *ud, char *why, size_t whylen) {
    (void)ud;
    if (!atomic_load(&g_db_up)) {
        snprintf(why, whylen, "database not connected");
        return 0;
    }
    if (!atomic_load(&g_joined)) {
        snprintf(why, whylen, "not joined to the consumer group yet");
        return 0;
    }
    return 1;
}

static void set_lag(int32_t partition, double v) {
    char labels[32];
    snprintf(labels, sizeof(labels), "partition=\"%d\"", (int)partition);
    obs_metric_set(obs_metrics_gauge("observatory_worker_partition_lag", labels,
                                     "records behind the high watermark, per assigned partition"),
                   v);
}

/* Rebalance (main thread, inside poll): on revoke, commit what is stored -
 * only offsets of committed transactions are ever stored - and drop the
 * batch in progress (its records come back to whoever gets the partition). */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        obs_info("group", "assigned %d partitions", parts->cnt);
        rd_kafka_assign(rk, parts);
        /* A pause outlives the assignment in librdkafka: a partition paused
         * while the database was down, revoked and assigned again would stay
         * paused for good (found by tests/integration/chaos/test_pg_restart.py).
         * New assignments start resumed; a batch that still finds the
         * database down pauses them again. */
        rd_kafka_resume_partitions(rk, parts);
        atomic_store(&g_joined, 1);
    } else {
        obs_info("group", "revoked %d partitions", parts->cnt);
        for (int i = 0; i < parts->cnt; i++) /* not ours any more: no stale lag */
            set_lag(parts->elems[i].partition, 0);
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
            obs_warn("group", "commit on revoke: %s", rd_kafka_err2str(e));
        rd_kafka_resume_partitions(rk, parts); /* do not leave a stale pause behind */
        rd_kafka_assign(rk, NULL);
        g_revoked = 1;
    }
}

static void dlq_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        atomic_fetch_add(&g_dlq_failed, 1);
        obs_error("dlq", "delivery failed: %s", rd_kafka_err2str(m->err));
    }
}

/* ---- helpers ------------------------------------------------------------------------ */

/* Lag = high watermark - position. A partition this member has not consumed
 * from yet has no position: its fetch starts at the group's committed offset,
 * so that is the position (the low watermark only when nothing is committed)
 * - not the low watermark, which reported a drained partition as all lag. */
static void update_lag(rd_kafka_t *rk) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(rk, &parts) || !parts) return;
    rd_kafka_position(rk, parts);
    rd_kafka_topic_partition_list_t *unknown = NULL;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (p->offset >= 0) continue;
        if (!unknown) unknown = rd_kafka_topic_partition_list_new(parts->cnt);
        rd_kafka_topic_partition_list_add(unknown, p->topic, p->partition)->offset = RD_KAFKA_OFFSET_INVALID;
    }
    if (unknown && rd_kafka_committed(rk, unknown, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < unknown->cnt; i++) {
            rd_kafka_topic_partition_t *u = &unknown->elems[i];
            rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(parts, u->topic, u->partition);
            if (p && !u->err && u->offset >= 0) p->offset = u->offset;
        }
    }
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (rd_kafka_get_watermark_offsets(rk, p->topic, p->partition, &lo, &hi) || hi < 0) continue;
        int64_t pos = p->offset >= 0 ? p->offset : lo;
        set_lag(p->partition, (double)(hi > pos ? hi - pos : 0));
    }
    if (unknown) rd_kafka_topic_partition_list_destroy(unknown);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Store highest+1 per partition of the batch (after the DB commit). */
static void store_offsets(rd_kafka_t *rk, const char *topic, struct wrk_rec *recs, size_t n) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(l, topic, recs[i].partition);
        if (!p) p = rd_kafka_topic_partition_list_add(l, topic, recs[i].partition), p->offset = -1;
        if (recs[i].offset + 1 > p->offset) p->offset = recs[i].offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(rk, l);
    if (e) obs_warn("offsets", "store: %s (partition revoked?)", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

/* Publish the batch's poison records to the DLQ and wait for them. */
static int publish_dlq(rd_kafka_t *prod, const char *dlq, struct wrk_rec *recs, size_t n) {
    int sent = 0;
    atomic_store(&g_dlq_failed, 0);
    for (size_t i = 0; i < n; i++) {
        struct wrk_rec *r = &recs[i];
        if (!r->poison) continue;
        rd_kafka_message_t *m = r->msg;
        char part[16], off[24];
        snprintf(part, sizeof(part), "%d", (int)r->partition);
        snprintf(off, sizeof(off), "%" PRId64, r->offset);
        rd_kafka_resp_err_t e =
            rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(dlq), RD_KAFKA_V_KEY(m->key, m->key_len),
                              RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADER("obs.reason", r->poison, -1),
                              RD_KAFKA_V_HEADER("obs.source.topic", r->topic, -1),
                              RD_KAFKA_V_HEADER("obs.source.partition", part, -1),
                              RD_KAFKA_V_HEADER("obs.source.offset", off, -1), RD_KAFKA_V_END);
        if (e) {
            obs_error("dlq", "produce: %s", rd_kafka_err2str(e));
            return -1;
        }
        obs_warn("dlq", "partition %d offset %" PRId64 " to %s: %s", (int)r->partition, r->offset, dlq,
                 r->poison);
        sent++;
    }
    if (!sent) return 0;
    if (rd_kafka_flush(prod, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || atomic_load(&g_dlq_failed)) return -1;
    obs_metric_add(m_dlq, (uint64_t)sent);
    return 0;
}

static void set_paused(rd_kafka_t *rk, int pause) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(rk, &parts) || !parts) return;
    if (pause)
        rd_kafka_pause_partitions(rk, parts);
    else
        rd_kafka_resume_partitions(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* ---- the loop ------------------------------------------------------------------------ */

struct wrk_ctx {
    struct wrk_config *cfg;    /* configuration */
    rd_kafka_t *rk;            /* consumer */
    rd_kafka_t *prod;          /* DLQ producer */
    struct obs_codec *codec;   /* Avro decoder */
    struct wrk_store *store;   /* PostgreSQL */
    rd_kafka_message_t **msgs; /* batch messages, owned */
    size_t nmsgs, capmsgs;     /* used / allocated */
    struct wrk_rec *pre;       /* msgs[0..npre) decoded and parsed ahead, or NULL */
    size_t npre;
    /* read-ahead: the next batch, prepared by a helper thread */
    struct obs_codec *codec2;  /* the helper thread's decoder */
    rd_kafka_message_t **next; /* next batch messages, owned */
    rd_kafka_message_t *carry; /* returned by the poll that revoked: of the new assignment (see keep_new) */
    size_t nnext, capnext;     /* used / allocated */
    struct wrk_rec *next_recs; /* prepared by the thread */
    pthread_t thread;          /* running while ahead */
    int ahead;                 /* the thread was started and not joined */
};

static int push_msg(struct wrk_ctx *c, rd_kafka_message_t *m) {
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) obs_warn("kafka", "%s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return 0;
    }
    if (c->nmsgs == c->capmsgs) {
        size_t nc = c->capmsgs ? c->capmsgs * 2 : 256;
        void *p = realloc(c->msgs, nc * sizeof(*c->msgs));
        if (!p) {
            obs_error("batch", "out of memory");
            rd_kafka_message_destroy(m);
            return -1;
        }
        c->msgs = p;
        c->capmsgs = nc;
    }
    c->msgs[c->nmsgs++] = m;
    return 1;
}

static void free_recs(struct wrk_rec *recs, size_t n) {
    for (size_t i = 0; recs && i < n; i++)
        wrk_rec_clear(&recs[i]);
    free(recs);
}

/* A poll that runs the rebalance callback can also return a message, and
 * that message is of the new assignment: librdkafka has moved its position
 * past it, so dropping it with the batch of the old assignment loses it
 * for good (the next fetch starts after it, and the next stored offset
 * commits the gap). Kept here and put first into the next batch. Found by
 * tests/integration/chaos/test_rebalance_db_down.py: a rebalance during a
 * database outage lost the first record of a newly assigned partition. */
static void keep_new(struct wrk_ctx *c, rd_kafka_message_t *m) {
    if (!m) return;
    if (c->carry) rd_kafka_message_destroy(c->carry); /* not reached: one revoke per batch */
    c->carry = m;
}

static void drop_batch(struct wrk_ctx *c) {
    for (size_t i = 0; i < c->nmsgs; i++)
        rd_kafka_message_destroy(c->msgs[i]);
    c->nmsgs = 0;
    free_recs(c->pre, c->npre);
    c->pre = NULL;
    c->npre = 0;
}

/* Fill recs[0..n) from msgs (decode and parse). */
static void prepare_recs(struct obs_codec *codec, const char *topic, rd_kafka_message_t **msgs, size_t n,
                         struct wrk_rec *recs) {
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        recs[i].msg = m;
        recs[i].topic = topic;
        recs[i].partition = m->partition;
        recs[i].offset = m->offset;
        recs[i].value = m->payload;
        recs[i].value_len = m->len;
        wrk_rec_prepare(codec, &recs[i]);
    }
}

static void *ahead_main(void *arg) {
    struct wrk_ctx *c = arg;
    prepare_recs(c->codec2, c->cfg->topic, c->next, c->nnext, c->next_recs);
    return NULL;
}

/* Take the records fetched already (no wait) as the next batch and start
 * preparing them. Returns -1 when a revoke happened meanwhile. */
static int start_ahead(struct wrk_ctx *c) {
    if (!c->codec2) return 0;
    while (c->nnext < c->capnext && !g_stop) {
        int was = g_revoked;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);
        if (!was && g_revoked) {
            keep_new(c, m);
            break;
        }
        if (!m) break;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                obs_warn("kafka", "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        c->next[c->nnext++] = m; /* capnext = batch.max_records, allocated at start */
    }
    if (g_revoked) return -1;
    if (!c->nnext) return 0;
    c->next_recs = calloc(c->nnext, sizeof(*c->next_recs));
    if (!c->next_recs) return 0; /* prepared inline later */
    if (pthread_create(&c->thread, NULL, ahead_main, c) != 0) {
        free(c->next_recs);
        c->next_recs = NULL;
        return 0;
    }
    c->ahead = 1;
    return 0;
}

/* Join the read-ahead thread; keep = 1 makes the next batch the current one
 * (msgs must be empty), keep = 0 drops it. */
static void finish_ahead(struct wrk_ctx *c, int keep) {
    if (c->ahead) {
        pthread_join(c->thread, NULL);
        c->ahead = 0;
    }
    if (keep && c->nmsgs == 0) {
        rd_kafka_message_t **t = c->msgs;
        size_t cap = c->capmsgs;
        c->msgs = c->next, c->capmsgs = c->capnext, c->nmsgs = c->nnext;
        c->next = t, c->capnext = cap, c->nnext = 0;
        c->pre = c->next_recs, c->npre = c->next_recs ? c->nmsgs : 0;
        c->next_recs = NULL;
        return;
    }
    free_recs(c->next_recs, c->next_recs ? c->nnext : 0);
    c->next_recs = NULL;
    for (size_t i = 0; i < c->nnext; i++)
        rd_kafka_message_destroy(c->next[i]);
    c->nnext = 0;
}

/* A failed store: the next batch joins the current one, ahead of anything
 * polled later, so offsets are only ever stored for a prefix. */
static void merge_ahead(struct wrk_ctx *c) {
    if (c->ahead) {
        pthread_join(c->thread, NULL);
        c->ahead = 0;
    }
    free_recs(c->next_recs, c->next_recs ? c->nnext : 0);
    c->next_recs = NULL;
    for (size_t i = 0; i < c->nnext; i++)
        push_msg(c, c->next[i]);
    c->nnext = 0;
}

/* Wait for the database with capped backoff, polling Kafka (paused) so the
 * group membership stays alive. Returns 0 when connected, -1 on stop or
 * revoke (the batch must be dropped). */
static int wait_for_db(struct wrk_ctx *c) {
    int backoff = 100;
    set_paused(c->rk, 1);
    atomic_store(&g_db_up, 0);
    obs_metric_set(m_db_up, 0);
    while (!g_stop) {
        double until = obs_mono_s() + backoff / 1000.0;
        while (!g_stop && obs_mono_s() < until) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
            if (g_revoked) {
                keep_new(c, m);
                return -1;
            }
            if (m) push_msg(c, m); /* fetched before the pause: keep it in the batch */
        }
        char err[512];
        if (wrk_store_connect(c->store, err, sizeof(err)) == 0) {
            obs_info("db", "reconnected");
            atomic_store(&g_db_up, 1);
            obs_metric_set(m_db_up, 1);
            set_paused(c->rk, 0);
            return 0;
        }
        obs_warn("db", "still unavailable (retry in %d ms): %s", backoff, err);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    return -1;
}

/* Process the batch in c->msgs until it is committed or must be dropped. */
static void process_batch(struct wrk_ctx *c) {
    double t0 = obs_mono_s();
    int first = 1;
    for (;;) {
        size_t n = c->nmsgs;
        struct wrk_rec *recs = NULL;
        if (c->pre && c->npre == n) {
            recs = c->pre; /* prepared by the read-ahead thread */
        } else {
            free_recs(c->pre, c->npre);
            recs = calloc(n, sizeof(*recs));
            if (recs) prepare_recs(c->codec, c->cfg->topic, c->msgs, n, recs);
        }
        c->pre = NULL;
        c->npre = 0;
        if (!recs) {
            obs_error("batch", "out of memory");
            drop_batch(c);
            finish_ahead(c, 0);
            return;
        }
        if (first && !c->ahead && start_ahead(c) < 0) {
            free_recs(recs, n);
            drop_batch(c); /* revoked while reading ahead */
            finish_ahead(c, 0);
            g_revoked = 0;
            return;
        }
        first = 0;
        char err[1024];
        struct wrk_store_stats stats;
        enum wrk_status s = wrk_store_begin(c->store, recs, n, &stats, err, sizeof(err));
        if (s == WRK_OK) {
            if (publish_dlq(c->prod, c->cfg->dlq_topic, recs, n) < 0) {
                snprintf(err, sizeof(err), "DLQ publish failed");
                if (wrk_store_commit(c->store, 0, err, sizeof(err)) != WRK_OK) { /* rolled back either way */
                }
                s = WRK_RETRY;
            } else {
                s = wrk_store_commit(c->store, 1, err, sizeof(err));
            }
        }
        if (s == WRK_OK) {
            store_offsets(c->rk, c->cfg->topic, recs, n);
            obs_metric_add(m_records, n);
            obs_metric_add(m_inserted, stats.inserted);
            obs_metric_add(m_dupes, stats.duplicates);
            obs_metric_observe(m_batch, obs_mono_s() - t0);
            obs_debug("batch", "%zu records: %" PRIu64 " new, %" PRIu64 " duplicate, %" PRIu64 " poison", n,
                      stats.inserted, stats.duplicates, stats.poison);
            free_recs(recs, n);
            drop_batch(c);
            finish_ahead(c, 1); /* the next batch, prepared meanwhile */
            return;
        }
        free_recs(recs, n);
        merge_ahead(c);
        obs_metric_inc(m_db_errors);
        obs_warn("db", "batch of %zu not stored, will retry: %s", n, err);
        if (!wrk_store_connected(c->store)) {
            if (wait_for_db(c) < 0) {
                obs_info("batch", "dropping the uncommitted batch (%s)", g_stop ? "stopping" : "revoked");
                drop_batch(c);
                g_revoked = 0;
                return;
            }
        } else {
            /* deadlock or another transient error: brief pause, keep polling */
            for (int i = 0; i < 5 && !g_stop; i++) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);
                if (g_revoked) {
                    keep_new(c, m);
                    break;
                }
                if (m) push_msg(c, m);
                usleep(20000);
            }
            if (g_revoked || g_stop) {
                drop_batch(c);
                g_revoked = 0;
                return;
            }
        }
    }
}

static int run(struct wrk_ctx *c) {
    double last_lag = 0;
    while (!g_stop) {
        g_revoked = 0;
        double deadline = 0;
        if (c->carry) { /* kept by keep_new: first in this batch, before what was polled after it */
            if (push_msg(c, c->carry) == 1) {
                rd_kafka_message_t *m = c->msgs[c->nmsgs - 1];
                memmove(c->msgs + 1, c->msgs, (c->nmsgs - 1) * sizeof(*c->msgs));
                c->msgs[0] = m;
                if (c->nmsgs == 1) deadline = obs_mono_s() + c->cfg->max_wait_ms / 1000.0;
            }
            c->carry = NULL;
        }
        while (!g_stop && c->nmsgs < (size_t)c->cfg->max_records) {
            int timeout = 100;
            if (c->nmsgs) {
                double left = deadline - obs_mono_s();
                if (left <= 0) break;
                timeout = (int)(left * 1000) + 1;
            }
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout);
            if (g_revoked) {
                drop_batch(c);
                g_revoked = 0;
            }
            if (!m) {
                if (obs_mono_s() - last_lag > 1) update_lag(c->rk), last_lag = obs_mono_s();
                continue;
            }
            if (push_msg(c, m) == 1 && c->nmsgs == 1) deadline = obs_mono_s() + c->cfg->max_wait_ms / 1000.0;
        }
        if (c->nmsgs && !g_stop)
            process_batch(c);
        else if (c->nmsgs)
            drop_batch(c); /* stopping: abandon, uncommitted */
        if (obs_mono_s() - last_lag > 1) update_lag(c->rk), last_lag = obs_mono_s();
    }
    return 0;
}

static void usage(FILE *out) {
    fprintf(out, "usage: " PROG " [-c FILE]\n\n"
                 "Consumes transcript records from Kafka and stores them in PostgreSQL.\n\n"
                 "Options: -c, --config FILE; -h, --help; -V, --version\n\n");
    obs_config_usage(out, wrk_opts);
}

int main(int argc, char **argv) {
    static const struct option lopts[] = {{"config", required_argument, NULL, 'c'},
                                          {"help", no_argument, NULL, 'h'},
                                          {"version", no_argument, NULL, 'V'},
                                          {NULL, 0, NULL, 0}};
    const char *cfg_path = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "c:hV", lopts, NULL)) != -1) {
        switch (o) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf(PROG " %s\n", OBS_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    obs_log_init(PROG);
    struct wrk_config cfg = {0};
    struct obs_kv_list kv = {0};
    struct wrk_ctx c = {.cfg = &cfg};
    struct wrk_prices *prices = NULL;
    struct obs_admin *admin = NULL;
    int rc = 1;
    char err[512];
    int bad = obs_config_load(wrk_opts, &cfg, cfg_path, &kv, PROG);
    if (!bad && obs_log_set_level_name(cfg.log_level) < 0) {
        fprintf(stderr, PROG ": config: log.level: unknown level '%s'\n", cfg.log_level);
        bad++;
    }
    if (!bad && (!cfg.database_url || !*cfg.database_url)) {
        fprintf(stderr, PROG ": config: database.url is required (DATABASE_URL or OBS_DATABASE_URL)\n");
        bad++;
    }
    if (bad) {
        obs_config_free(wrk_opts, &cfg, &kv);
        return 2;
    }

    prices = wrk_prices_load(cfg.prices_path, err, sizeof(err));
    if (!prices) {
        obs_warn("prices", "no price table (%s): every cost is 0, price_version 'unpriced'", err);
        prices = wrk_prices_empty();
    } else {
        obs_info("prices", "loaded %zu model prices, version %s", prices->n, prices->version);
    }

    m_records = obs_metrics_counter("observatory_worker_records_total", NULL, "records consumed and settled");
    m_inserted = obs_metrics_counter("observatory_worker_events_inserted_total", NULL, "new event rows");
    m_dupes = obs_metrics_counter("observatory_worker_duplicates_total", NULL, "records already stored");
    m_dlq = obs_metrics_counter("observatory_worker_dlq_total", NULL, "records sent to the DLQ");
    m_db_errors =
        obs_metrics_counter("observatory_worker_db_errors_total", NULL, "batches PostgreSQL failed");
    m_batch = obs_metrics_histogram("observatory_worker_batch_seconds", NULL, "batch latency, poll to commit",
                                    obs_latency_buckets, obs_latency_nbuckets);
    m_db_up = obs_metrics_gauge("observatory_worker_db_up", NULL, "1 when connected to PostgreSQL");

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    c.codec = obs_codec_create(err, sizeof(err));
    if (!c.codec) {
        obs_error("codec", "%s", err);
        goto out;
    }
    /* read-ahead (see the top of this file); without it batches are prepared inline */
    json_object_seed(0); /* before a second thread parses JSON */
    c.codec2 = obs_codec_create(err, sizeof(err));
    c.next = calloc((size_t)cfg.max_records, sizeof(*c.next));
    c.capnext = c.next ? (size_t)cfg.max_records : 0;
    if (!c.codec2 || !c.next) obs_warn("batch", "read-ahead off: out of memory");
    c.store = wrk_store_create(cfg.database_url, prices);
    if (!c.store) goto out;
    if (wrk_store_connect(c.store, err, sizeof(err)) == 0) {
        atomic_store(&g_db_up, 1);
        obs_metric_set(m_db_up, 1);
    } else {
        obs_warn("db", "not connected yet: %s", err);
    }

    rd_kafka_conf_t *conf = obs_kafka_conf_new(cfg.bootstrap, PROG, &kv, err, sizeof(err));
    if (!conf || obs_kafka_conf_set(conf, "group.id", cfg.group, err, sizeof(err)) ||
        obs_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, sizeof(err)) ||
        obs_kafka_conf_set(conf, "enable.auto.commit", "true", err, sizeof(err)) ||
        obs_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err))) {
        fprintf(stderr, PROG ": config: %s\n", err);
        if (conf) rd_kafka_conf_destroy(conf);
        rc = 2;
        goto out;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    c.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!c.rk) {
        rd_kafka_conf_destroy(conf);
        obs_error("kafka", "consumer: %s", err);
        goto out;
    }
    conf = NULL; /* owned by rk */
    rd_kafka_poll_set_consumer(c.rk);

    rd_kafka_conf_t *pconf = obs_kafka_conf_new(cfg.bootstrap, PROG "-dlq", &kv, err, sizeof(err));
    if (!pconf || obs_kafka_conf_set(pconf, "enable.idempotence", "true", err, sizeof(err)) ||
        obs_kafka_conf_set(pconf, "acks", "all", err, sizeof(err))) {
        fprintf(stderr, PROG ": config: %s\n", err);
        if (pconf) rd_kafka_conf_destroy(pconf);
        rc = 2;
        goto out;
    }
    rd_kafka_conf_set_dr_msg_cb(pconf, dlq_dr_cb);
    c.prod = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));
    if (!c.prod) {
        rd_kafka_conf_destroy(pconf);
        obs_error("kafka", "producer: %s", err);
        goto out;
    }

    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, cfg.topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c.rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        obs_error("kafka", "subscribe %s: %s", cfg.topic, rd_kafka_err2str(e));
        goto out;
    }

    admin = obs_admin_start(cfg.admin_listen, ready_cb, NULL, err, sizeof(err));
    if (!admin && strcmp(cfg.admin_listen, "") != 0 && strcmp(cfg.admin_listen, "off") != 0) {
        obs_error("admin", "%s", err);
        goto out;
    }
    obs_info("main", "consuming %s as group %s (batch %ld records / %ld ms)", cfg.topic, cfg.group,
             cfg.max_records, cfg.max_wait_ms);
    /* A rebalance while waiting (wait_for_db returns -1): the records it
     * held are of the old assignment; wait on with the new one. */
    while (!atomic_load(&g_db_up) && !g_stop && wait_for_db(&c) < 0) {
        drop_batch(&c);
        g_revoked = 0;
    }
    if (g_stop) goto out;
    rc = run(&c);
    obs_info("main", "stopping: committing offsets and leaving the group");

out:
    if (c.rk) {
        drop_batch(&c);
        finish_ahead(&c, 0);
        if (c.carry) rd_kafka_message_destroy(c.carry);
        c.carry = NULL;
        rd_kafka_resp_err_t ce = rd_kafka_commit(c.rk, NULL, 0);
        if (ce && ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
            obs_warn("offsets", "final commit: %s", rd_kafka_err2str(ce));
        rd_kafka_consumer_close(c.rk);
        rd_kafka_destroy(c.rk);
    }
    if (c.prod) {
        rd_kafka_flush(c.prod, 5000);
        rd_kafka_destroy(c.prod);
    }
    finish_ahead(&c, 0);
    free(c.msgs);
    free(c.next);
    obs_admin_stop(admin);
    wrk_store_destroy(c.store);
    obs_codec_destroy(c.codec);
    obs_codec_destroy(c.codec2);
    wrk_prices_free(prices);
    obs_config_free(wrk_opts, &cfg, &kv);
    obs_metrics_shutdown();
    return rc;
}
