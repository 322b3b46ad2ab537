/* obs_metrics.h - a small process-wide Prometheus registry.
 *
 * Metrics are registered once (usually at start-up) and updated lock-free
 * with atomics from any thread. A metric is a family name plus an optional
 * fixed label string (`rule="aws_key"`); obs_metrics_counter() returns the
 * same object for the same name+labels, so hot paths keep the pointer.
 * obs_metrics_render() writes the text exposition format, version 0.0.4.
 * Objects live until obs_metrics_shutdown() (called at exit in debug builds
 * so sanitizers see everything freed). */
#ifndef OBS_METRICS_H
#define OBS_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct obs_metric;
struct evbuffer;

/* Monotonic counter (name should end in _total). */
struct obs_metric *obs_metrics_counter(const char *name, const char *labels, const char *help);
/* Gauge: set or add (signed). */
struct obs_metric *obs_metrics_gauge(const char *name, const char *labels, const char *help);
/* Histogram with the given upper bounds (ascending, +Inf implied). bounds is
 * copied. Values are in the unit of the name (seconds for *_seconds). */
struct obs_metric *obs_metrics_histogram(const char *name, const char *labels, const char *help,
                                         const double *bounds, size_t nbounds);

void obs_metric_add(struct obs_metric *m, uint64_t n);
void obs_metric_inc(struct obs_metric *m);
void obs_metric_set(struct obs_metric *m, double v);
void obs_metric_gauge_add(struct obs_metric *m, double d);
void obs_metric_observe(struct obs_metric *m, double v);
/* Current value of a counter or gauge (tests, progress lines). */
double obs_metric_value(const struct obs_metric *m);

/* Default latency buckets in seconds: 1ms … 10s. */
extern const double obs_latency_buckets[];
extern const size_t obs_latency_nbuckets;

/* Render every metric into buf (libevent buffer). */
void obs_metrics_render(struct evbuffer *buf);
void obs_metrics_shutdown(void);

#endif
