/* obs_kafka.c - librdkafka configuration, logging and topic admin, see obs_kafka.h. */
#include "obs_kafka.h"

#include "obs_log.h"

#include <stdio.h>
#include <string.h>

/* Runs on librdkafka's threads. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    enum obs_log_level l = level <= 3   ? OBS_LOG_ERROR
                           : level <= 5 ? OBS_LOG_WARN
                           : level == 6 ? OBS_LOG_INFO
                                        : OBS_LOG_DEBUG;
    obs_log(l, "rdkafka", "%s: %s", fac, buf);
}

int obs_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                       size_t errlen) {
    char e[512];
    if (rd_kafka_conf_set(conf, name, value, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errlen, "kafka: %s: %s", name, e);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *obs_kafka_conf_new(const char *bootstrap, const char *client_id,
                                    const struct obs_kv_list *passthrough, char *errstr, size_t errlen) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    if (obs_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, errlen) < 0 ||
        obs_kafka_conf_set(conf, "client.id", client_id, errstr, errlen) < 0)
        goto err;
    for (size_t i = 0; passthrough && i < passthrough->n; i++)
        if (obs_kafka_conf_set(conf, passthrough->items[i].key, passthrough->items[i].value, errstr, errlen) <
            0)
            goto err;
    return conf;
err:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int obs_kafka_ensure_topic(rd_kafka_t *rk, const char *topic, int partitions, int replication, int timeout_ms,
                           char *errstr, size_t errlen) {
    int rc = -1;
    char e[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication, e, sizeof(e));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;
    if (!nt) {
        snprintf(errstr, errlen, "topic %s: %s", topic, e);
        goto out;
    }
    rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, e, sizeof(e));
    rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, e, sizeof(e));
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (!ev) {
        snprintf(errstr, errlen, "topic %s: no answer from Kafka within %d ms", topic, timeout_ms);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errlen, "topic %s: %s", topic, rd_kafka_event_error_string(ev));
        goto out;
    }
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[i]);
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(errstr, errlen, "topic %s: %s", topic, rd_kafka_topic_result_error_string(tr[i]));
            goto out;
        }
    }
    rc = 0;
out:
    if (ev) rd_kafka_event_destroy(ev);
    if (opt) rd_kafka_AdminOptions_destroy(opt);
    if (q) rd_kafka_queue_destroy(q);
    if (nt) rd_kafka_NewTopic_destroy(nt);
    return rc;
}
