/* test_usage.c - the ccusage-20 dedup decision, cost (200k tiers, 1-hour
 * cache, defaults for missing cache prices, fast, <synthetic>) and the
 * price table loader. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../obs_test.h"
#include "../../../workers/wrk_usage.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static struct wrk_prices *table(void) {
    char path[] = "/tmp/wrk_prices_XXXXXX";
    int fd = mkstemp(path);
    const char *j =
        "{\"version\":\"t1\",\"models\":{"
        "\"claude-sonnet-4-5-20250929\":{\"input_cost_per_token\":3e-06,\"input_cost_per_token_above_200k_"
        "tokens\":"
        "6e-06,\"output_cost_per_token\":1.5e-05,\"output_cost_per_token_above_200k_tokens\":2.25e-05,"
        "\"cache_creation_input_token_cost\":3.75e-06,\"cache_creation_input_token_cost_above_200k_tokens\":"
        "7.5e-06,"
        "\"cache_read_input_token_cost\":3e-07,\"cache_read_input_token_cost_above_200k_tokens\":6e-07},"
        "\"claude-opus-4-6\":{\"input_cost_per_token\":5e-06,\"output_cost_per_token\":2.5e-05,"
        "\"cache_creation_input_token_cost\":6.25e-06,\"cache_read_input_token_cost\":5e-07,\"fast_"
        "multiplier\":6.0},"
        "\"bare\":{\"input_cost_per_token\":1e-06,\"output_cost_per_token\":2e-06}}}";
    if (write(fd, j, strlen(j)) < 0) perror("write");
    close(fd);
    char err[256];
    struct wrk_prices *p = wrk_prices_load(path, err, sizeof(err));
    unlink(path);
    return p;
}

static void test_prices(void) {
    struct wrk_prices *p = table();
    CHECK(p != NULL, "price table loads");
    if (!p) return;
    CHECK_STR(p->version, "t1", "version kept");
    CHECK(p->n == 3, "three models");
    const struct wrk_price *b = wrk_prices_find(p, "bare");
    CHECK(b && NEAR(b->cache_write, 1.25e-06) && NEAR(b->cache_read, 1e-07),
          "missing cache prices default to 1.25x / 0.1x input");
    CHECK(wrk_prices_find(p, "anthropic/claude-opus-4-6") != NULL, "provider prefix stripped");
    CHECK(wrk_prices_find(p, "<synthetic>") == NULL, "<synthetic> has no price");
    CHECK(wrk_prices_find(p, "gpt-4") == NULL, "unknown model has no price");
    char err[256];
    CHECK(wrk_prices_load("/nonexistent/prices.json", err, sizeof(err)) == NULL,
          "missing file is an error (%s)", err);
    struct wrk_prices *e = wrk_prices_empty();
    CHECK(e && strcmp(e->version, "unpriced") == 0 && e->n == 0, "empty fallback table");
    wrk_prices_free(e);

    /* the real table shipped in common/ loads when present */
    struct wrk_prices *real = wrk_prices_load("common/model_prices.json", err, sizeof(err));
    if (real) CHECK(wrk_prices_find(real, "claude-opus-4-1-20250805") != NULL, "shipped table has opus 4.1");
    wrk_prices_free(real);
    wrk_prices_free(p);
}

static void test_cost(void) {
    struct wrk_prices *p = table();
    if (!p) return;
    struct wrk_usage u = {.input = 10, .output = 100, .cache_5m = 1000, .cache_read = 10000};
    double want = 10 * 3e-06 + 100 * 1.5e-05 + 1000 * 3.75e-06 + 10000 * 3e-07;
    CHECK(NEAR(wrk_usage_cost(p, "claude-sonnet-4-5-20250929", &u), want), "plain cost");

    struct wrk_usage big = {.input = 250000, .cache_read = 300000};
    want = 200000 * 3e-06 + 50000 * 6e-06 + 200000 * 3e-07 + 100000 * 6e-07;
    CHECK(NEAR(wrk_usage_cost(p, "claude-sonnet-4-5-20250929", &big), want), "200k tier per category");

    struct wrk_usage edge = {.input = 200000};
    CHECK(NEAR(wrk_usage_cost(p, "claude-sonnet-4-5-20250929", &edge), 200000 * 3e-06), "exactly 200k: base");

    struct wrk_usage h = {.cache_1h = 300000};
    want = 200000 * 6e-06 + 100000 * 12e-06;
    CHECK(NEAR(wrk_usage_cost(p, "claude-sonnet-4-5-20250929", &h), want), "1h cache at 2x input, tiered");

    struct wrk_usage h2 = {.cache_1h = 300000};
    CHECK(NEAR(wrk_usage_cost(p, "claude-opus-4-6", &h2), 300000 * 1e-05), "1h cache untiered without tier");

    struct wrk_usage f = {.output = 1000, .has_speed = 1, .fast = 1};
    CHECK(NEAR(wrk_usage_cost(p, "claude-opus-4-6", &f), 1000 * 2.5e-05 * 6), "fast multiplier");

    CHECK(wrk_usage_cost(p, "<synthetic>", &u) == 0.0, "<synthetic> costs 0");
    CHECK(wrk_usage_cost(p, NULL, &u) == 0.0, "no model costs 0");
    CHECK(wrk_usage_total(&u) == 11110, "token total");
    wrk_prices_free(p);
}

static void test_dedup(void) {
    struct wrk_usage_copy kept = {
        .is_sidechain = 0, .total = 100, .source_path = "p/b.jsonl", .source_offset = 10};
    struct wrk_usage_copy c = kept;
    CHECK(!wrk_usage_should_replace(&c, &kept), "the same copy never replaces itself (redelivery)");
    c.total = 101;
    CHECK(wrk_usage_should_replace(&c, &kept), "larger total replaces");
    c.total = 99;
    CHECK(!wrk_usage_should_replace(&c, &kept), "smaller total does not");
    c.total = 1000;
    c.is_sidechain = 1;
    CHECK(!wrk_usage_should_replace(&c, &kept), "sidechain never replaces non-sidechain, even larger");
    struct wrk_usage_copy side = {.is_sidechain = 1, .total = 1000, .source_path = "p/a.jsonl"};
    struct wrk_usage_copy main = {.is_sidechain = 0, .total = 5, .source_path = "p/z.jsonl"};
    CHECK(wrk_usage_should_replace(&main, &side), "non-sidechain replaces sidechain, even smaller");
    c = kept;
    c.has_speed = 1;
    CHECK(wrk_usage_should_replace(&c, &kept), "equal total: the copy with speed wins");
    CHECK(!wrk_usage_should_replace(&kept, &c), "equal total: speed copy is not replaced by one without");
    c = kept;
    c.source_path = "p/a.jsonl";
    CHECK(wrk_usage_should_replace(&c, &kept), "tie: the earlier path wins (ccusage's first seen)");
    c.source_path = "p/c.jsonl";
    CHECK(!wrk_usage_should_replace(&c, &kept), "tie: a later path does not");
    c.source_path = "p/b.jsonl";
    c.source_offset = 5;
    CHECK(wrk_usage_should_replace(&c, &kept), "tie in one file: the earlier line wins");
    /* the outcome is independent of arrival order: main file sorts before its subagents dir */
    struct wrk_usage_copy m1 = {.total = 7, .source_path = "p/s.jsonl", .source_offset = 900};
    struct wrk_usage_copy m2 = {.total = 7, .source_path = "p/s/subagents/agent-a.jsonl", .source_offset = 0};
    CHECK(wrk_usage_should_replace(&m1, &m2) && !wrk_usage_should_replace(&m2, &m1),
          "order-independent tie break");

    char key[128];
    CHECK_STR(wrk_usage_key("msg_1", "req_1", "e", key, sizeof(key)), "msg_1:req_1", "key with requestId");
    CHECK_STR(wrk_usage_key("msg_1", NULL, "e", key, sizeof(key)), "msg_1", "key without requestId");
    CHECK_STR(wrk_usage_key(NULL, "req_1", "e1", key, sizeof(key)), "line:e1", "no message.id: per line");
}

int main(void) {
    test_prices();
    test_cost();
    test_dedup();
    OBS_TEST_END();
}
