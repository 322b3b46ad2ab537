/* test_util.c - timestamps, hashing and the config loader. */
#include "../obs_test.h"
#include "obs_config.h"
#include "obs_util.h"

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

struct tcfg {
    char *url;
    long n;
    int flag;
    char *name;
};
static const struct obs_cfg_opt topts[] = {
    {"database.url", OBS_CFG_STR, NULL, offsetof(struct tcfg, url), 0, 0, "url"},
    {"batch.size", OBS_CFG_INT, "500", offsetof(struct tcfg, n), 1, 100000, "n"},
    {"feature.flag", OBS_CFG_BOOL, "false", offsetof(struct tcfg, flag), 0, 0, "flag"},
    {"name", OBS_CFG_STR, "x", offsetof(struct tcfg, name), 0, 0, "name"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

int main(void) {
    int64_t ms;
    CHECK(obs_parse_iso8601_ms("2025-08-24T04:16:32.053Z", &ms) == 0 && ms == 1756008992053LL,
          "ISO timestamp with ms and Z");
    CHECK(obs_parse_iso8601_ms("1970-01-01T00:00:00Z", &ms) == 0 && ms == 0, "epoch without fraction");
    CHECK(obs_parse_iso8601_ms("2024-02-29T23:59:59.999+01:00", &ms) == 0 && ms == 1709247599999LL,
          "offset and leap day");
    CHECK(obs_parse_iso8601_ms("yesterday", &ms) < 0, "garbage is rejected");
    CHECK(obs_parse_iso8601_ms("2025-13-01T00:00:00Z", &ms) < 0, "month 13 is rejected");
    char buf[40];
    obs_format_iso8601_ms(1756008992053LL, buf, sizeof(buf));
    CHECK_STR(buf, "2025-08-24T04:16:32.053Z", "format round trip");

    char hex[65];
    obs_sha256_hex("abc", 3, hex, 32);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256('abc')");

    /* Config: file values, env override, unknown key and bad int errors. */
    char path[] = "/tmp/obs_test_cfgXXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# comment\nbatch.size = 42\nname = \"quoted\"\nkafka.rdkafka.socket.timeout.ms = 1000\n");
    fclose(f);
    struct tcfg c = {0};
    struct obs_kv_list kv = {0};
    setenv("OBS_FEATURE_FLAG", "yes", 1);
    setenv("DATABASE_URL", "postgresql://plain", 1);
    setenv("OBS_RDKAFKA__SECURITY_PROTOCOL", "SASL_SSL", 1);
    CHECK(obs_config_load(topts, &c, path, &kv, "test") == 0, "valid file loads");
    CHECK(c.n == 42, "int from file");
    CHECK(c.flag == 1, "bool from OBS_ env");
    CHECK_STR(c.name, "quoted", "quotes stripped");
    CHECK_STR(c.url, "postgresql://plain", "DATABASE_URL honoured");
    int found = 0;
    for (size_t i = 0; i < kv.n; i++)
        if (!strcmp(kv.items[i].key, "security.protocol") && !strcmp(kv.items[i].value, "SASL_SSL"))
            found++;
        else if (!strcmp(kv.items[i].key, "socket.timeout.ms") && !strcmp(kv.items[i].value, "1000"))
            found++;
    CHECK(found == 2, "librdkafka pass-through from file and env");
    setenv("OBS_DATABASE_URL", "postgresql://obs", 1);
    obs_config_free(topts, &c, &kv);
    CHECK(obs_config_load(topts, &c, NULL, &kv, "test") == 0 && !strcmp(c.url, "postgresql://obs"),
          "OBS_ variable wins over the plain one");
    obs_config_free(topts, &c, &kv);

    f = fopen(path, "w");
    fprintf(f, "batch.size = lots\nbatch.sise = 3\nfeature.flag = maybe\nno equals sign\nbatch.size = 0\n");
    fclose(f);
    printf("(expected config errors follow)\n");
    CHECK(obs_config_load(topts, &c, path, NULL, "test") == 5, "every bad line is reported once");
    obs_config_free(topts, &c, NULL);
    unlink(path);
    CHECK(obs_config_load(topts, &c, "/nonexistent/obs.conf", NULL, "test") == 1, "missing file is an error");
    obs_config_free(topts, &c, NULL);
    OBS_TEST_END();
}
