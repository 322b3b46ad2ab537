/* obs_kafka.h - librdkafka plumbing shared by producer, workers and obsctl:
 * building an rd_kafka_conf_t from the program config (bootstrap plus the
 * kafka.rdkafka.* pass-through), routing librdkafka logs into obs_log, and
 * creating topics through the Admin API. */
#ifndef OBS_KAFKA_H
#define OBS_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "obs_config.h"

/* New conf with bootstrap.servers, client.id, the log callback and every
 * pass-through property applied. Returns NULL with errstr on a bad
 * property. The caller owns the conf until rd_kafka_new() takes it. */
rd_kafka_conf_t *obs_kafka_conf_new(const char *bootstrap, const char *client_id,
                                    const struct obs_kv_list *passthrough, char *errstr, size_t errlen);

/* Set one property or fail with "kafka: <prop>: <librdkafka error>". */
int obs_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                       size_t errlen) __attribute__((warn_unused_result));

/* Create topic if missing (an existing topic is fine). Uses rk's admin API,
 * waits at most timeout_ms. 0 or -1 with errstr. */
int obs_kafka_ensure_topic(rd_kafka_t *rk, const char *topic, int partitions, int replication, int timeout_ms,
                           char *errstr, size_t errlen);

#endif
