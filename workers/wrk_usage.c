/* wrk_usage.c - prices, cost and the ccusage-20 dedup decision; see
 * wrk_usage.h. */
#include "wrk_usage.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number field or dflt when absent / not a number. */
static double num(const json_t *o, const char *key, double dflt) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

struct wrk_prices *wrk_prices_empty(void) {
    struct wrk_prices *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->version = strdup("unpriced");
    if (!p->version) {
        free(p);
        return NULL;
    }
    return p;
}

struct wrk_prices *wrk_prices_load(const char *path, char *errstr, size_t errlen) {
    json_error_t jerr;
    struct wrk_prices *p = NULL;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        snprintf(errstr, errlen, "%s: %s", path, jerr.text);
        return NULL;
    }
    json_t *models = json_object_get(root, "models");
    if (!json_is_object(models)) models = root; /* flat LiteLLM layout */
    p = calloc(1, sizeof(*p));
    if (!p) goto err;
    const char *v = json_string_value(json_object_get(root, "version"));
    p->version = strdup(v ? v : "unversioned");
    p->items = calloc(json_object_size(models) + 1, sizeof(*p->items));
    if (!p->version || !p->items) goto err;
    const char *name;
    json_t *m;
    json_object_foreach(models, name, m) {
        if (!json_is_object(m) || !json_is_number(json_object_get(m, "input_cost_per_token"))) continue;
        struct wrk_price *e = &p->items[p->n];
        e->model = strdup(name);
        if (!e->model) goto err;
        e->input = num(m, "input_cost_per_token", 0);
        e->output = num(m, "output_cost_per_token", 0);
        e->cache_write = num(m, "cache_creation_input_token_cost", e->input * 1.25);
        e->cache_read = num(m, "cache_read_input_token_cost", e->input * 0.1);
        e->input_above = num(m, "input_cost_per_token_above_200k_tokens", -1);
        e->output_above = num(m, "output_cost_per_token_above_200k_tokens", -1);
        e->cache_write_above = num(m, "cache_creation_input_token_cost_above_200k_tokens", -1);
        e->cache_read_above = num(m, "cache_read_input_token_cost_above_200k_tokens", -1);
        e->fast_multiplier = num(m, "fast_multiplier", 1.0);
        p->n++;
    }
    json_decref(root);
    if (p->n == 0) {
        snprintf(errstr, errlen, "%s: no model prices in the table", path);
        wrk_prices_free(p);
        return NULL;
    }
    return p;
err:
    snprintf(errstr, errlen, "out of memory");
    json_decref(root);
    wrk_prices_free(p);
    return NULL;
}

void wrk_prices_free(struct wrk_prices *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].model);
    free(p->items);
    free(p->version);
    free(p);
}

const struct wrk_price *wrk_prices_find(const struct wrk_prices *p, const char *model) {
    if (!p || !model || !*model || strcmp(model, "<synthetic>") == 0) return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].model, model) == 0) return &p->items[i];
    const char *slash = strrchr(model, '/');
    if (slash && slash[1]) return wrk_prices_find(p, slash + 1);
    const struct wrk_price *best = NULL;
    size_t bestlen = 0, ml = strlen(model);
    for (size_t i = 0; i < p->n; i++) {
        size_t kl = strlen(p->items[i].model);
        size_t l = kl < ml ? kl : ml;
        if (l > bestlen && strncmp(p->items[i].model, model, l) == 0 && (kl == l ? model[l] == '-' : 1) &&
            (ml == l ? p->items[i].model[l] == '-' : 1)) {
            best = &p->items[i];
            bestlen = l;
        }
    }
    return best;
}

double wrk_tiered(int64_t n, double base, double above) {
    if (n <= WRK_TIER_TOKENS || above < 0) return (double)n * base;
    return (double)WRK_TIER_TOKENS * base + (double)(n - WRK_TIER_TOKENS) * above;
}

double wrk_usage_cost(const struct wrk_prices *p, const char *model, const struct wrk_usage *u) {
    const struct wrk_price *e = wrk_prices_find(p, model);
    if (!e) return 0.0;
    double c = wrk_tiered(u->input, e->input, e->input_above) +
               wrk_tiered(u->output, e->output, e->output_above) +
               wrk_tiered(u->cache_5m, e->cache_write, e->cache_write_above) +
               wrk_tiered(u->cache_1h, 2 * e->input, e->input_above >= 0 ? 2 * e->input_above : -1) +
               wrk_tiered(u->cache_read, e->cache_read, e->cache_read_above);
    if (u->fast) c *= e->fast_multiplier;
    return c;
}

int64_t wrk_usage_total(const struct wrk_usage *u) {
    return u->input + u->output + u->cache_5m + u->cache_1h + u->cache_read;
}

int wrk_usage_should_replace(const struct wrk_usage_copy *cand, const struct wrk_usage_copy *kept) {
    if (!!cand->is_sidechain != !!kept->is_sidechain) return kept->is_sidechain;
    if (cand->total != kept->total) return cand->total > kept->total;
    if (!!cand->has_speed != !!kept->has_speed) return cand->has_speed;
    int c = strcmp(cand->source_path ? cand->source_path : "", kept->source_path ? kept->source_path : "");
    if (c != 0) return c < 0;
    return cand->source_offset < kept->source_offset;
}

char *wrk_usage_key(const char *message_id, const char *request_id, const char *event_id, char *out,
                    size_t len) {
    if (!message_id)
        snprintf(out, len, "line:%s", event_id ? event_id : "");
    else if (!request_id)
        snprintf(out, len, "%s", message_id);
    else
        snprintf(out, len, "%s:%s", message_id, request_id);
    return out;
}
