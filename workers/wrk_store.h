/* wrk_store.h - one batch of Kafka records into PostgreSQL in one
 * transaction: events, tool_calls (+ pending results), message_usage (the
 * ccusage-20 rule), sessions (advanced by new rows only), ingest_errors.
 *
 * Usage: wrk_store_begin() runs everything but COMMIT and marks records that
 * PostgreSQL rejects for their content as poison: the batch is first written
 * in bulk (events COPYed straight into events, falling back to a keyed insert
 * when a key is stored already; COPY into temp tables and set-wise statements
 * for the rest; tool results of earlier uses pipelined); if PostgreSQL
 * rejects any content, it is rolled back and redone with a savepoint around
 * each record (docs/adr/0022, 0023); the caller then publishes poison
 * records to the DLQ and calls
 * wrk_store_commit(). Any other failure returns WRK_RETRY with the
 * transaction rolled back: the caller keeps the batch and retries. */
#ifndef WRK_STORE_H
#define WRK_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "obs_codec.h"
#include "wrk_line.h"
#include "wrk_usage.h"

enum wrk_status { WRK_OK = 0, WRK_RETRY = 1, WRK_FATAL = 2 };

/* One Kafka record of a batch. */
struct wrk_rec {
    void *msg;            /* the rd_kafka_message_t, owned by the caller */
    const char *topic;    /* source topic (points into the caller's config) */
    int32_t partition;    /* source partition */
    int64_t offset;       /* source offset */
    const void *value;    /* record value (points into msg) */
    size_t value_len;     /* its length */
    struct obs_event ev;  /* decoded envelope; strings owned (copied) */
    int decoded;          /* ev is valid */
    struct wrk_line line; /* parsed payload; valid when parsed */
    int parsed;           /* line is valid */
    char *poison;         /* reason when the record goes to the DLQ, owned */
    int inserted;         /* the event row was new */
};

/* Decode the envelope and parse the payload; on failure sets rec->poison.
 * codec is reused across records. */
void wrk_rec_prepare(struct obs_codec *codec, struct wrk_rec *rec);
/* Free what rec owns (not msg). Accepts half-built records. */
void wrk_rec_clear(struct wrk_rec *rec);

/* Per-batch counters. */
struct wrk_store_stats {
    uint64_t inserted;   /* new event rows */
    uint64_t duplicates; /* event rows that already existed */
    uint64_t poison;     /* records rejected by PostgreSQL for their content */
    uint64_t usage_kept; /* message_usage rows inserted or replaced */
};

struct wrk_store;

/* Create a store for url (no connection yet). */
struct wrk_store *wrk_store_create(const char *url, const struct wrk_prices *prices);
/* Close the connection and free; accepts NULL. */
void wrk_store_destroy(struct wrk_store *st);
/* Connect (or reconnect) and prepare statements. 0 or -1 with errstr. */
int wrk_store_connect(struct wrk_store *st, char *errstr, size_t errlen) __attribute__((warn_unused_result));
/* 1 when the connection is up. */
int wrk_store_connected(const struct wrk_store *st);
/* Drop the connection (after a failure). */
void wrk_store_disconnect(struct wrk_store *st);

/* BEGIN and write the batch (see above). On WRK_RETRY errstr says why. */
enum wrk_status wrk_store_begin(struct wrk_store *st, struct wrk_rec *recs, size_t n,
                                struct wrk_store_stats *stats, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));
/* COMMIT (ok = 1) or ROLLBACK (ok = 0) the open transaction. */
enum wrk_status wrk_store_commit(struct wrk_store *st, int ok, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

#endif
