/* test_redact.c - prod_redact: every built-in rule (a positive and a
 * look-alike negative), JSON validity of the output, secrets next to a
 * closing quote and a \n escape, user rules, metadata-only mode, and a
 * throughput measurement (REDACT_BENCH_MB=N, default off). */
#include "../obs_test.h"
#include "../../../producer/prod_redact.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *run(struct prod_redact *r, const char *in, int *n) {
    const char *out;
    size_t len;
    *n = prod_redact_line(r, in, strlen(in), &out, &len);
    char *s = malloc(len + 1);
    memcpy(s, out, len);
    s[len] = '\0';
    return s;
}

static int valid_json(const char *s) {
    json_t *j = json_loads(s, 0, NULL);
    int ok = j != NULL;
    json_decref(j);
    return ok;
}

/* A JSON user line whose content string holds body (already JSON-escaped). */
static char *line_with(const char *body) {
    size_t n = strlen(body) + 128;
    char *s = malloc(n);
    snprintf(s, n, "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"%s\"}}", body);
    return s;
}

static void pos(struct prod_redact *r, const char *rule, const char *body, const char *secret) {
    char *in = line_with(body);
    int n;
    char *out = run(r, in, &n);
    char mark[96];
    snprintf(mark, sizeof(mark), "[REDACTED:%s]", rule);
    CHECK(strstr(out, secret) == NULL, "%s: secret '%s' gone", rule, secret);
    CHECK(strstr(out, mark) != NULL && prod_redact_last_count(r, rule) >= 1 && n >= 1, "%s: counted (%d)",
          rule, n);
    CHECK(valid_json(out), "%s: output valid JSON: %s", rule, out);
    free(in);
    free(out);
}

static void neg(struct prod_redact *r, const char *rule, const char *body) {
    char *in = line_with(body);
    int n;
    char *out = run(r, in, &n);
    CHECK(n == 0 && strcmp(in, out) == 0, "%s: look-alike kept: %s", rule, body);
    if (n) printf("      got %s\n", out);
    free(in);
    free(out);
}

static void contains(struct prod_redact *r, const char *in, const char *want, const char *what) {
    int n;
    char *out = run(r, in, &n);
    CHECK(strstr(out, want) != NULL && valid_json(out), "%s", what);
    if (!strstr(out, want)) printf("      got %s\n", out);
    free(out);
}

static void test_builtin(void) {
    char err[512];
    struct prod_redact *r = prod_redact_create(1, 0, NULL, err, sizeof(err));
    CHECK(r != NULL, "create: %s", r ? "ok" : err);
    if (!r) return;
    CHECK(prod_redact_nrules(r) == 13, "13 built-in rules");

    pos(r, "aws_access_key", "key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE");
    pos(r, "aws_access_key", "ASIAABCDEFGHIJKLMNOP", "ASIAABCDEFGHIJKLMNOP");
    neg(r, "aws_access_key", "AKIAIOSFODNN7EXAMPL is 15");
    neg(r, "aws_access_key", "MAKIAIOSFODNN7EXAMPLE2");

    pos(r, "aws_secret_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    pos(r, "aws_secret_key",
        "{\\\"AWS_SECRET_ACCESS_KEY\\\":\\\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\\\"}",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    neg(r, "aws_secret_key", "commit da39a3ee5e6b4b0d3255bfef95601890afd80709 fixed it");
    neg(r, "aws_secret_key", "aws_secret_access_key = tooShortToBeAKey");

    pos(r, "github_token", "token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 ok",
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789");
    pos(r, "github_token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz");
    neg(r, "github_token", "ghp_short123 and ghost_town");

    pos(r, "gitlab_token", "glpat-AbCdEfGhIjKlMnOpQrSt", "glpat-AbCdEfGhIjKlMnOpQrSt");
    neg(r, "gitlab_token", "glpat-short");

    pos(r, "slack_token", "xoxb-123456789012-abcdefghijkl", "xoxb-123456789012-abcdefghijkl");
    neg(r, "slack_token", "xoxb-1 xoxo-hugs-and-kisses");
    pos(r, "slack_webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX");
    neg(r, "slack_webhook", "see https://slack.com/help/articles/webhooks");

    pos(r, "anthropic_key", "ANTHROPIC_API_KEY=sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx_yz-0123",
        "AbCdEfGhIjKlMnOpQrStUvWx_yz-0123");
    CHECK(prod_redact_last_count(r, "openai_key") == 0, "anthropic key not counted as openai");
    neg(r, "anthropic_key", "sk-ant-short");

    pos(r, "openai_key", "OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrSt1234uvWX",
        "AbCdEfGhIjKlMnOpQrSt1234uvWX");
    pos(r, "openai_key", "sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij");
    neg(r, "openai_key", "pip install sk-learn; task-sk-thing; sk-learn-compatible-estimator-class");

    pos(r, "pem_private_key",
        "cat id_rsa\\n-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA1234abcd\\nQWERTY+/=\\n"
        "-----END RSA PRIVATE KEY-----\\ndone",
        "MIIEpAIBAAKCAQEA1234abcd");
    pos(r, "pem_private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\ntruncat",
        "b3BlbnNzaC1rZXktdjEAAAAA");
    neg(r, "pem_private_key", "-----BEGIN PUBLIC KEY-----\\nMIIBIjANBgkqhkiG9w0B\\n-----END PUBLIC KEY-----");

    pos(r, "jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcDEF123_-xyz", "eyJzdWIiOiIxMjM0In0");
    neg(r, "jwt", "blob eyJhbGciOiJIUzI1NiJ9 and aGVsbG8gd29ybGQ= and a.b.c");

    pos(r, "url_password", "psql postgres://admin:s3cretPass@db.example.com:5432/app", "s3cretPass");
    contains(r, "{\"u\":\"postgres://admin:s3cretPass@db.example.com:5432/app\"}",
             "postgres://admin:[REDACTED:url_password]@db.example.com:5432/app",
             "url: scheme/user/host kept");
    neg(r, "url_password", "https://user@example.com/x http://localhost:8080/a@b git@github.com:o/r.git");

    pos(r, "auth_header", "curl -H \\\"Authorization: Bearer abc123def456ghi789\\\" https://x",
        "abc123def456ghi789");
    contains(r, "{\"c\":\"Authorization: Basic dXNlcjpwYXNz\"}",
             "Authorization: Basic [REDACTED:auth_header]", "auth header: scheme word kept");
    neg(r, "auth_header", "the authorization flow uses bearer tokens");

    {
        const char *in = "{\"headers\":{\"authorization\":\"Token abcdef123456\",\"x\":1}}";
        int n;
        char *out = run(r, in, &n);
        CHECK(strstr(out, "abcdef123456") == NULL && prod_redact_last_count(r, "auth_value") == 1 &&
                  valid_json(out),
              "auth_value: JSON authorization value: %s", out);
        free(out);
    }
    pos(r, "auth_value", "{\\\"password\\\":\\\"hunter2\\\"}", "hunter2");
    neg(r, "auth_value", "{\\\"author\\\":\\\"bob\\\",\\\"password_hint\\\":\\\"x\\\"}");
    /* Every key of the rule through the pre-scan literals (the key's opening quote). */
    contains(
        r,
        "{\"Proxy-Authorization\":\"Basic Zm9vOmJhcg\",\"X-API-Key\":\"k-123\",\"apiKey\":\"k-456\","
        "\"api_key\":\"k-789\",\"passwd\":\"pw1\",\"client_secret\":\"cs1\",\"ClientSecret\":\"cs2\"}",
        "{\"Proxy-Authorization\":\"[REDACTED:auth_value]\",\"X-API-Key\":\"[REDACTED:auth_value]\","
        "\"apiKey\":\"[REDACTED:auth_value]\",\"api_key\":\"[REDACTED:auth_value]\",\"passwd\":\"[REDACTED:"
        "auth_value]\",\"client_secret\":\"[REDACTED:auth_value]\",\"ClientSecret\":\"[REDACTED:auth_value]"
        "\"}",
        "auth_value: every key name, any case");
    neg(r, "auth_value", "API keys come from auth.APIKeyFromRequest; reset your password; the client");

    /* boundaries: closing quote, \n escape before and after */
    contains(r, "{\"content\":\"AKIAIOSFODNN7EXAMPLE\"}", "\"[REDACTED:aws_access_key]\"}",
             "secret right before the closing quote");
    contains(r, "{\"content\":\"a\\nghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789\\nb\"}",
             "a\\n[REDACTED:github_token]\\nb", "secret between \\n escapes");
    contains(r, "{\"content\":\"x\\tsk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx\\\"y\"}",
             "x\\t[REDACTED:anthropic_key]\\\"y", "secret before an escaped quote");
    {
        int n;
        char *out = run(r, "not json AKIAIOSFODNN7EXAMPLE", &n);
        CHECK_STR(out, "not json [REDACTED:aws_access_key]", "non-JSON line redacted, published as is");
        free(out);
        out = run(r, "{\"a\":\"AKIAIOSFODNN7EXAMPLE ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789\"}", &n);
        CHECK(n == 2, "two secrets counted (%d)", n);
        free(out);
        const char *plain = "{\"type\":\"assistant\",\"message\":{\"content\":[]}}";
        const char *o;
        size_t ol;
        CHECK(prod_redact_line(r, plain, strlen(plain), &o, &ol) == 0 && o == plain,
              "clean line returned without copying");
    }
    prod_redact_destroy(r);
}

static void test_user_rules(void) {
    char err[512];
    struct prod_redact *r =
        prod_redact_create(1, 0, " internal = ACME-[0-9]{6} ; semi=x\\;y", err, sizeof(err));
    CHECK(r != NULL, "user rules compile: %s", r ? "ok" : err);
    if (!r) return;
    CHECK(prod_redact_nrules(r) == 15 && strcmp(prod_redact_rule_name(r, 13), "internal") == 0,
          "user rules appended");
    pos(r, "internal", "ticket ACME-123456", "ACME-123456");
    neg(r, "internal", "ACME-12");
    contains(r, "{\"a\":\"x;y\"}", "[REDACTED:semi]", "escaped ; inside a pattern");
    prod_redact_destroy(r);

    r = prod_redact_create(1, 0, "good=abc;broken_rule=(unclosed", err, sizeof(err));
    CHECK(r == NULL && strstr(err, "broken_rule") && strstr(err, "missing closing parenthesis"),
          "bad pattern rejected: %s", err);
    prod_redact_destroy(r);
    r = prod_redact_create(1, 0, "bad name=abc", err, sizeof(err));
    CHECK(r == NULL && strstr(err, "bad name"), "bad rule name rejected: %s", err);
    r = prod_redact_create(1, 0, "aws_access_key=abc", err, sizeof(err));
    CHECK(r == NULL && strstr(err, "already used"), "duplicate name rejected: %s", err);
    r = prod_redact_create(0, 0, "x=(", err, sizeof(err));
    CHECK(r != NULL && prod_redact_nrules(r) == 0, "rules disabled: none compiled");
    prod_redact_destroy(r);
}

static void test_metadata(void) {
    char err[512];
    struct prod_redact *r = prod_redact_create(1, 1, NULL, err, sizeof(err));
    CHECK(r != NULL, "metadata-only create");
    if (!r) return;
    int n;
    const char *asst =
        "{\"parentUuid\":\"p1\",\"isSidechain\":false,\"sessionId\":\"s1\",\"version\":\"2.1.39\","
        "\"gitBranch\":"
        "\"main\",\"cwd\":\"/home/bob\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":"
        "\"assistant\",\"model\":\"claude-opus-4-6\",\"content\":[{\"type\":\"thinking\",\"thinking\":"
        "\"secret "
        "plan\",\"signature\":\"c2ln\"},{\"type\":\"text\",\"text\":\"hello world\"},{\"type\":\"tool_use\","
        "\"id\":\"toolu_01\",\"name\":\"Bash\",\"input\":{\"command\":\"cat /etc/passwd\"}}],\"stop_reason\":"
        "\"tool_use\",\"usage\":{\"input_tokens\":3,\"output_tokens\":98,\"cache_read_input_tokens\":11506}},"
        "\"requestId\":\"req_01\",\"type\":\"assistant\",\"uuid\":\"u1\",\"timestamp\":\"2025-08-24T04:16:"
        "32.053Z\"}";
    char *out = run(r, asst, &n);
    CHECK(valid_json(out), "assistant: valid JSON");
    CHECK(strstr(out,
                 "\"usage\":{\"input_tokens\":3,\"output_tokens\":98,\"cache_read_input_tokens\":11506}") &&
              strstr(out, "\"model\":\"claude-opus-4-6\"") && strstr(out, "\"id\":\"msg_01\"") &&
              strstr(out, "\"requestId\":\"req_01\"") && strstr(out, "\"uuid\":\"u1\"") &&
              strstr(out, "\"parentUuid\":\"p1\"") && strstr(out, "\"sessionId\":\"s1\"") &&
              strstr(out, "\"stop_reason\":\"tool_use\"") &&
              strstr(out, "\"timestamp\":\"2025-08-24T04:16:32.053Z\""),
          "assistant: usage, model, ids kept");
    CHECK(strstr(out, "{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"Bash\",\"input\":{}}") != NULL,
          "assistant: tool name/id kept, input emptied");
    CHECK(!strstr(out, "hello") && !strstr(out, "secret plan") && !strstr(out, "passwd"),
          "assistant: text, thinking, tool input removed");
    CHECK(strncmp(out, "{\"parentUuid\"", 13) == 0, "assistant: key order kept: %.40s", out);
    free(out);

    const char *user =
        "{\"type\":\"user\",\"uuid\":\"u2\",\"message\":{\"role\":\"user\",\"content\":[{\"tool_use_id\":"
        "\"toolu_01\",\"type\":\"tool_result\",\"content\":[{\"type\":\"text\",\"text\":\"root:x:0:0\"}],"
        "\"is_error\":false}]},\"toolUseResult\":{\"stdout\":\"root:x:0:0\",\"stderr\":\"\"}}";
    out = run(r, user, &n);
    CHECK_STR(
        out,
        "{\"type\":\"user\",\"uuid\":\"u2\",\"message\":{\"role\":\"user\",\"content\":[{\"tool_use_id\":"
        "\"toolu_01\",\"type\":\"tool_result\",\"content\":\"\",\"is_error\":false}]},\"toolUseResult\":{}}",
        "tool_result: id/is_error kept, content and toolUseResult emptied");
    free(out);
    out = run(r,
              "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"my "
              "prompt\"},\"toolUseResult\":\"Error: x\"}",
              &n);
    CHECK_STR(out,
              "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"\"},\"toolUseResult\":\"\"}",
              "string content and string toolUseResult emptied");
    free(out);
    out = run(r, "{\"type\":\"summary\",\"summary\":\"Fix login\",\"leafUuid\":\"l1\"}", &n);
    CHECK_STR(out, "{\"type\":\"summary\",\"summary\":\"\",\"leafUuid\":\"l1\"}", "summary emptied");
    free(out);
    out = run(r, "{\"type\":\"system\",\"content\":\"Running hook\",\"level\":\"info\"}", &n);
    CHECK_STR(out, "{\"type\":\"system\",\"content\":\"\",\"level\":\"info\"}", "system content emptied");
    free(out);
    out = run(
        r,
        "{\"type\":\"progress\",\"data\":{\"type\":\"hook_progress\",\"command\":\"x\"},\"toolUseID\":\"t\"}",
        &n);
    CHECK_STR(out, "{\"type\":\"progress\",\"data\":{},\"toolUseID\":\"t\"}", "progress data emptied");
    free(out);
    out = run(r, "{\"type\":\"file-history-snapshot\",\"messageId\":\"m\",\"snapshot\":{\"a\":1}}", &n);
    CHECK_STR(out, "{\"type\":\"file-history-snapshot\",\"messageId\":\"m\",\"snapshot\":{}}",
              "snapshot emptied");
    free(out);
    out = run(r, "garbage line {", &n);
    CHECK_STR(out, "{\"type\":\"observatory-unparsable\",\"bytes\":14}",
              "non-JSON line -> unparsable marker");
    free(out);
    out = run(r, "{\"type\":\"assistant\",\"cwd\":\"/x\",\"error\":\"key AKIAIOSFODNN7EXAMPLE\"}", &n);
    CHECK(n == 1 && strstr(out, "[REDACTED:aws_access_key]"), "rules also run in metadata-only mode");
    free(out);
    prod_redact_destroy(r);
}

/* REDACT_BENCH_MB=200 REDACT_BENCH_DIR=<fixture lines file>: MB/s. */
static void bench(void) {
    const char *mb = getenv("REDACT_BENCH_MB"), *file = getenv("REDACT_BENCH_FILE");
    if (!mb || !file) return;
    FILE *f = fopen(file, "rb");
    if (!f) return;
    static char data[4 << 20];
    size_t dl = fread(data, 1, sizeof(data) - 1, f);
    fclose(f);
    data[dl] = '\0';
    for (int mode = 0; mode < 2; mode++) {
        char err[256];
        struct prod_redact *r = prod_redact_create(1, mode, NULL, err, sizeof(err));
        double want = atof(mb) * 1e6, done = 0;
        long secrets = 0;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        while (done < want) {
            char *p = data;
            while (*p) {
                char *e = strchr(p, '\n');
                size_t l = e ? (size_t)(e - p) : strlen(p);
                const char *o;
                size_t ol;
                secrets += prod_redact_line(r, p, l, &o, &ol);
                done += (double)l + 1;
                p += l + (e ? 1 : 0);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        printf("bench: %s: %.0f MB in %.2f s = %.1f MB/s (%ld secrets)\n", mode ? "metadata-only" : "rules",
               done / 1e6, s, done / 1e6 / s, secrets);
        prod_redact_destroy(r);
    }
}

/* The literal pre-scan looks at every other byte pair: a secret must be
 * found at every alignment, at the very start and the very end of a line,
 * and with the case-insensitive rules in any case. */
static void test_prescan_alignment(void) {
    char err[256];
    struct prod_redact *r = prod_redact_create(1, 0, NULL, err, sizeof(err));
    static const struct {
        const char *rule, *secret;
    } s[] = {
        {"github_token", "ghp_0123456789abcdefghijABCDEFGHIJ012345"},
        {"aws_access_key", "AKIAIOSFODNN7EXAMPLE"},
        {"openai_key", "sk-proj-abcdefghij0123456789"},
        {"anthropic_key", "sk-ant-api03-abcdefghij0123456789"},
        {"slack_token", "xoxb-1234567890-abcdef"},
        {"gitlab_token", "glpat-abcdefghij0123456789"},
        {"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"},
        {"auth_header", "AUTHORIZATION: Bearer abc123def456"},
        {"auth_header", "aUtHoRiZaTiOn: Bearer abc123def456"},
        {"aws_secret_key", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        for (int pad = 0; pad < 4; pad++) {
            char line[256];
            snprintf(line, sizeof(line), "%.*s%s", pad, "    ", s[i].secret);
            const char *out;
            size_t len;
            int n = prod_redact_line(r, line, strlen(line), &out, &len);
            if (n < 1 || prod_redact_last_count(r, s[i].rule) < 1) {
                printf("      %s not found at offset %d: %s\n", s[i].rule, pad, line);
                ok = 0;
            }
        }
    CHECK(ok, "pre-scan: every secret found at offsets 0-3 and at the end of the line");
    const char *out;
    size_t len;
    const char *json = "{\"PassWord\":\"hunter2hunter2\"}";
    CHECK(prod_redact_line(r, json, strlen(json), &out, &len) == 1 &&
              prod_redact_last_count(r, "auth_value") == 1,
          "pre-scan: auth_value literal matches in any case");
    prod_redact_destroy(r);
}

/* PEM bodies of real key sizes (the lazy pattern overflowed PCRE2's JIT
 * stack past ~2 KB and the key went out as is). */
static void test_long_pem(void) {
    char err[512];
    struct prod_redact *r = prod_redact_create(1, 0, NULL, err, sizeof(err));
    if (!r) return;
    static const int rows[] = {52, 2000, 20000}; /* 64-char rows: 4096-bit RSA ~ 3.3 KB, 130 KB, 1.3 MB */
    for (int k = 0; k < 3; k++) {
        size_t cap = (size_t)rows[k] * 70 + 256, n = 0;
        char *body = malloc(cap);
        n += (size_t)snprintf(body + n, cap - n, "key: -----BEGIN RSA PRIVATE KEY-----\\n");
        for (int i = 0; i < rows[k]; i++)
            n += (size_t)snprintf(body + n, cap - n, "MIIJKAIBAAKCAgEA%048d\\n", i);
        snprintf(body + n, cap - n, "-----END RSA PRIVATE KEY-----\\ndone");
        char *in = line_with(body);
        int cnt;
        char *out = run(r, in, &cnt);
        CHECK(cnt == 1 && strstr(out, "MIIJKAIBAAKCAgEA") == NULL && strstr(out, "done") != NULL &&
                  valid_json(out) && prod_redact_last_error(r) == NULL,
              "pem_private_key: %d-row body (%zu bytes) redacted in one piece", rows[k], strlen(in));
        free(in);
        free(out);
        free(body);
    }
    prod_redact_destroy(r);
}

/* A rule PCRE2 cannot evaluate (match limit) fails closed. */
static void test_match_limit(void) {
    char err[512];
    struct prod_redact *r = prod_redact_create(1, 0, "slow=(?:a|a)*[\\x01\\x02]", err, sizeof(err));
    CHECK(r != NULL, "pathological user rule compiles: %s", r ? "ok" : err);
    if (!r) return;
    char a[64];
    memset(a, 'a', 40);
    a[40] = '\0';
    char in[512];
    snprintf(in, sizeof(in),
             "{\"type\":\"user\",\"cwd\":\"/w\",\"message\":{\"role\":\"user\",\"content\":\"%s "
             "AKIAIOSFODNN7EXAMPLE hunter2\"}}",
             a);
    int n;
    char *out = run(r, in, &n);
    CHECK(prod_redact_last_error(r) && strcmp(prod_redact_last_error(r), "slow") == 0,
          "match limit reported for rule slow");
    CHECK(strstr(out, "hunter2") == NULL && strstr(out, "AKIA") == NULL && strstr(out, a) == NULL,
          "nothing of the text left: %s", out);
    CHECK(strstr(out, "\"cwd\":\"/w\"") != NULL && valid_json(out), "published as its metadata: %s", out);
    free(out);
    /* The next clean line is evaluated normally again. */
    out = run(r, "{\"x\":\"bbb\"}", &n);
    CHECK(prod_redact_last_error(r) == NULL && strcmp(out, "{\"x\":\"bbb\"}") == 0, "next line unaffected");
    free(out);
    /* Not JSON: its metadata is the unparsable marker. */
    snprintf(in, sizeof(in), "%s AKIAIOSFODNN7EXAMPLE", a);
    out = run(r, in, &n);
    CHECK(strstr(out, "observatory-unparsable") != NULL && strstr(out, "AKIA") == NULL,
          "non-JSON line: unparsable marker: %s", out);
    free(out);
    prod_redact_destroy(r);

    /* A rule that fails on the metadata too: a marker with no content. */
    r = prod_redact_create(1, 0, "worse=(?:[^\\x01]|[^\\x01])*[\\x01\\x02]", err, sizeof(err));
    if (!r) return;
    out = run(r, "{\"type\":\"user\",\"message\":{\"content\":\"AKIAIOSFODNN7EXAMPLE and more text here\"}}",
              &n);
    CHECK(strncmp(out, "{\"type\":\"observatory-unredactable\",\"rule\":\"worse\",\"bytes\":", 58) == 0 &&
              valid_json(out) && n == 0,
          "unredactable marker: %s", out);
    free(out);
    prod_redact_destroy(r);

    /* Metadata-only mode: the rules already ran on metadata: marker. */
    r = prod_redact_create(1, 1, "worse=(?:[^\\x01]|[^\\x01])*[\\x01\\x02]", err, sizeof(err));
    if (!r) return;
    out = run(r, "{\"type\":\"user\",\"message\":{\"content\":\"secret text\"}}", &n);
    CHECK(strstr(out, "observatory-unredactable") != NULL && strstr(out, "secret") == NULL,
          "metadata-only mode: marker: %s", out);
    free(out);
    prod_redact_destroy(r);
}

int main(void) {
    test_prescan_alignment();
    test_builtin();
    test_long_pem();
    test_match_limit();
    /* The same without PCRE2's JIT (systemd MemoryDenyWriteExecute). */
    setenv("OBS_REDACT_JIT", "0", 1);
    printf("--- PCRE2 interpreter (OBS_REDACT_JIT=0)\n");
    test_builtin();
    test_long_pem();
    test_match_limit();
    unsetenv("OBS_REDACT_JIT");
    test_user_rules();
    test_metadata();
    bench();
    OBS_TEST_END();
}
