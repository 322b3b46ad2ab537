/* obs_metrics.c - Prometheus registry, see obs_metrics.h. */
#include "obs_metrics.h"

#include <event2/buffer.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM };

struct obs_metric {
    char *name;                /* family name */
    char *labels;              /* "a=\"b\"" or "" */
    char *help;                /* HELP text */
    enum kind kind;            /* counter, gauge or histogram */
    _Atomic uint64_t count;    /* counter value; histogram observation count */
    _Atomic uint64_t gbits;    /* gauge value as double bits; histogram sum bits */
    double *bounds;            /* histogram upper bounds */
    _Atomic uint64_t *buckets; /* histogram per-bound counts (not cumulative) */
    size_t nbounds;            /* number of bounds */
    struct obs_metric *next;   /* registry list, in registration order */
};

const double obs_latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const size_t obs_latency_nbuckets = sizeof(obs_latency_buckets) / sizeof(obs_latency_buckets[0]);

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct obs_metric *reg_head, *reg_tail;

static double bits_to_d(uint64_t b) {
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}
static uint64_t d_to_bits(double d) {
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static struct obs_metric *reg(const char *name, const char *labels, const char *help, enum kind k,
                              const double *bounds, size_t nb) {
    if (!labels) labels = "";
    pthread_mutex_lock(&reg_lock);
    for (struct obs_metric *m = reg_head; m; m = m->next) {
        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0) {
            pthread_mutex_unlock(&reg_lock);
            return m;
        }
    }
    struct obs_metric *m = calloc(1, sizeof(*m));
    if (!m) abort();
    m->name = strdup(name);
    m->labels = strdup(labels);
    m->help = strdup(help ? help : "");
    m->kind = k;
    if (k == K_HISTOGRAM) {
        m->bounds = malloc(nb * sizeof(double));
        m->buckets = calloc(nb, sizeof(*m->buckets));
        if (!m->bounds || !m->buckets) abort();
        memcpy(m->bounds, bounds, nb * sizeof(double));
        m->nbounds = nb;
    }
    /* Keep families together: insert after the last metric of the same name. */
    struct obs_metric *after = NULL;
    for (struct obs_metric *x = reg_head; x; x = x->next)
        if (strcmp(x->name, name) == 0) after = x;
    if (after) {
        m->next = after->next;
        after->next = m;
        if (reg_tail == after) reg_tail = m;
    } else {
        if (reg_tail)
            reg_tail->next = m;
        else
            reg_head = m;
        reg_tail = m;
    }
    pthread_mutex_unlock(&reg_lock);
    return m;
}

struct obs_metric *obs_metrics_counter(const char *name, const char *labels, const char *help) {
    return reg(name, labels, help, K_COUNTER, NULL, 0);
}
struct obs_metric *obs_metrics_gauge(const char *name, const char *labels, const char *help) {
    return reg(name, labels, help, K_GAUGE, NULL, 0);
}
struct obs_metric *obs_metrics_histogram(const char *name, const char *labels, const char *help,
                                         const double *bounds, size_t nbounds) {
    return reg(name, labels, help, K_HISTOGRAM, bounds, nbounds);
}

void obs_metric_add(struct obs_metric *m, uint64_t n) { atomic_fetch_add(&m->count, n); }
void obs_metric_inc(struct obs_metric *m) { atomic_fetch_add(&m->count, 1); }

void obs_metric_set(struct obs_metric *m, double v) { atomic_store(&m->gbits, d_to_bits(v)); }

static void add_double(_Atomic uint64_t *cell, double d) {
    uint64_t old = atomic_load(cell);
    while (!atomic_compare_exchange_weak(cell, &old, d_to_bits(bits_to_d(old) + d))) {}
}

void obs_metric_gauge_add(struct obs_metric *m, double d) { add_double(&m->gbits, d); }

void obs_metric_observe(struct obs_metric *m, double v) {
    size_t i = 0;
    while (i < m->nbounds && v > m->bounds[i])
        i++;
    if (i < m->nbounds) atomic_fetch_add(&m->buckets[i], 1);
    atomic_fetch_add(&m->count, 1);
    add_double(&m->gbits, v);
}

double obs_metric_value(const struct obs_metric *m) {
    if (m->kind == K_GAUGE) return bits_to_d(atomic_load(&m->gbits));
    return (double)atomic_load(&m->count);
}

static void render_labels(struct evbuffer *b, const char *labels, const char *extra) {
    if (!*labels && !extra) return;
    evbuffer_add_printf(b, "{%s%s%s}", labels, (*labels && extra) ? "," : "", extra ? extra : "");
}

void obs_metrics_render(struct evbuffer *b) {
    static const char *const tnames[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&reg_lock);
    const char *last = NULL;
    for (struct obs_metric *m = reg_head; m; m = m->next) {
        if (!last || strcmp(last, m->name) != 0) {
            evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                                tnames[m->kind]);
            last = m->name;
        }
        if (m->kind == K_COUNTER) {
            evbuffer_add_printf(b, "%s", m->name);
            render_labels(b, m->labels, NULL);
            evbuffer_add_printf(b, " %llu\n", (unsigned long long)atomic_load(&m->count));
        } else if (m->kind == K_GAUGE) {
            evbuffer_add_printf(b, "%s", m->name);
            render_labels(b, m->labels, NULL);
            evbuffer_add_printf(b, " %.17g\n", bits_to_d(atomic_load(&m->gbits)));
        } else {
            uint64_t cum = 0;
            char le[64];
            for (size_t i = 0; i < m->nbounds; i++) {
                cum += atomic_load(&m->buckets[i]);
                snprintf(le, sizeof(le), "le=\"%g\"", m->bounds[i]);
                evbuffer_add_printf(b, "%s_bucket", m->name);
                render_labels(b, m->labels, le);
                evbuffer_add_printf(b, " %llu\n", (unsigned long long)cum);
            }
            uint64_t count = atomic_load(&m->count);
            evbuffer_add_printf(b, "%s_bucket", m->name);
            render_labels(b, m->labels, "le=\"+Inf\"");
            evbuffer_add_printf(b, " %llu\n%s_sum", (unsigned long long)count, m->name);
            render_labels(b, m->labels, NULL);
            evbuffer_add_printf(b, " %.9g\n%s_count", bits_to_d(atomic_load(&m->gbits)), m->name);
            render_labels(b, m->labels, NULL);
            evbuffer_add_printf(b, " %llu\n", (unsigned long long)count);
        }
    }
    pthread_mutex_unlock(&reg_lock);
}

void obs_metrics_shutdown(void) {
    pthread_mutex_lock(&reg_lock);
    struct obs_metric *m = reg_head;
    while (m) {
        struct obs_metric *n = m->next;
        free(m->name);
        free(m->labels);
        free(m->help);
        free(m->bounds);
        free((void *)m->buckets);
        free(m);
        m = n;
    }
    reg_head = reg_tail = NULL;
    pthread_mutex_unlock(&reg_lock);
}
