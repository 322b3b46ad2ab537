/* delete_topics.c - delete Kafka topics with librdkafka's admin API (used by
 * bench/producer/run.sh to remove the topics it created; obsctl has no
 * delete command and the broker cache holds no kafka-topics.sh).
 *
 *   delete_topics BOOTSTRAP TOPIC...
 *
 * Prints one line per topic (deleted, or the broker's error); a topic that
 * does not exist counts as deleted. Exit 0 when every topic is gone, 1
 * otherwise. Build: cc -O2 -o delete_topics delete_topics.c -lrdkafka */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    char errstr[512];
    if (argc < 3) {
        fprintf(stderr, "usage: delete_topics BOOTSTRAP TOPIC...\n");
        return 2;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "delete_topics: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "delete_topics: %s\n", errstr);
        return 1;
    }
    int n = argc - 2, rc = 0;
    rd_kafka_DeleteTopic_t *del[n];
    for (int i = 0; i < n; i++)
        del[i] = rd_kafka_DeleteTopic_new(argv[i + 2]);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, 30000, errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_request_timeout(opt, 30000, errstr, sizeof(errstr));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, del, (size_t)n, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 40000);
    if (!ev) {
        fprintf(stderr, "delete_topics: no answer from %s within 40 s\n", argv[1]);
        rc = 1;
    } else if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "delete_topics: %s\n", rd_kafka_event_error_string(ev));
        rc = 1;
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
            const char *name = rd_kafka_topic_result_name(res[i]);
            if (err && err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                fprintf(stderr, "delete_topics: %s: %s\n", name, rd_kafka_err2str(err));
                rc = 1;
            } else {
                printf("deleted %s\n", name);
            }
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_DeleteTopic_destroy_array(del, (size_t)n);
    rd_kafka_destroy(rk);
    return rc;
}
