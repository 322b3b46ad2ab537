/* wrk_usage.h - counting usage the way ccusage 20 does: the price table
 * (common/model_prices.json), the cost of one kept line, and the decision
 * whether a new copy of a message replaces the kept one. Pure; unit tested.
 * See docs/workers.md "Counting usage" for why the rules are what they are. */
#ifndef WRK_USAGE_H
#define WRK_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "wrk_line.h"

/* Prices of one model, USD per token; the *_above values are < 0 when the
 * table has no 200k tier for that category. */
struct wrk_price {
    char *model;              /* table key, owned */
    double input;             /* input_cost_per_token */
    double output;            /* output_cost_per_token */
    double cache_write;       /* cache_creation_input_token_cost (default 1.25 x input) */
    double cache_read;        /* cache_read_input_token_cost (default 0.1 x input) */
    double input_above;       /* input_cost_per_token_above_200k_tokens */
    double output_above;      /* output_cost_per_token_above_200k_tokens */
    double cache_write_above; /* cache_creation_input_token_cost_above_200k_tokens */
    double cache_read_above;  /* cache_read_input_token_cost_above_200k_tokens */
    double fast_multiplier;   /* cost factor when usage.speed == "fast" (1 when absent) */
};

struct wrk_prices {
    char *version;           /* the table's "version", owned; "unpriced" for an empty table */
    struct wrk_price *items; /* models, owned */
    size_t n;                /* how many */
};

#define WRK_TIER_TOKENS 200000

/* Load the table at path: either {"version":..., "models":{name:{...}}} or
 * a flat LiteLLM-style {name:{...}}. Returns a table (caller frees with
 * wrk_prices_free) or NULL with errstr. */
struct wrk_prices *wrk_prices_load(const char *path, char *errstr, size_t errlen);
/* An empty table: every model costs 0, version "unpriced". */
struct wrk_prices *wrk_prices_empty(void);
void wrk_prices_free(struct wrk_prices *p);

/* Price entry for a model: exact key, then without a provider prefix, then
 * the longest table key that is a prefix of the model (or vice versa). NULL
 * for unknown models and "<synthetic>". */
const struct wrk_price *wrk_prices_find(const struct wrk_prices *p, const char *model);

/* tiered(n, base, above) of TRANSCRIPT-FORMAT.md 4.4. */
double wrk_tiered(int64_t n, double base, double above);

/* Cost in USD of one usage snapshot for a model (0 when unknown). */
double wrk_usage_cost(const struct wrk_prices *p, const char *model, const struct wrk_usage *u);

/* Token total used by the dedup rule: input + output + cache creation
 * (5m + 1h) + cache read. */
int64_t wrk_usage_total(const struct wrk_usage *u);

/* What the dedup rule looks at for one copy of a message. */
struct wrk_usage_copy {
    int is_sidechain;        /* isSidechain */
    int64_t total;           /* wrk_usage_total */
    int has_speed;           /* usage.speed present */
    const char *source_path; /* file path relative to the watch root */
    int64_t source_offset;   /* byte offset of the line */
};

/* 1 when cand must replace kept. ccusage 20: a non-sidechain copy beats a
 * sidechain one; then the larger total; then the copy with usage.speed;
 * then ccusage keeps the first seen in its processing order (files sorted
 * by path, lines in file order) - reproduced here as the smaller
 * (source_path bytewise, source_offset), so the outcome does not depend on
 * the order in which Kafka partitions deliver the copies. */
int wrk_usage_should_replace(const struct wrk_usage_copy *cand, const struct wrk_usage_copy *kept);

/* The usage key: "<message.id>:<requestId>", or "<message.id>" without a
 * requestId. Lines without message.id get "line:<event_id>" (ccusage counts
 * each of them, never merged). Writes into out; returns out. */
char *wrk_usage_key(const char *message_id, const char *request_id, const char *event_id, char *out,
                    size_t len);

#endif
