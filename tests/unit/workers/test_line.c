/* test_line.c - wrk_line_parse on one sample of every line kind of
 * TRANSCRIPT-FORMAT.md, and the NUL / invalid UTF-8 sanitiser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../obs_test.h"
#include "../../../workers/wrk_line.h"

static int parse(const char *s, struct wrk_line *ln) {
    char err[256];
    return wrk_line_parse(s, strlen(s), ln, err, sizeof(err));
}

static void test_user_string(void) {
    struct wrk_line ln;
    const char *s =
        "{\"parentUuid\":null,\"isSidechain\":false,\"userType\":\"external\",\"cwd\":\"/Users/a/src/app\","
        "\"sessionId\":\"s1\",\"version\":\"1.0.89\",\"gitBranch\":\"main\",\"type\":\"user\","
        "\"message\":{\"role\":\"user\",\"content\":\"fix the bug\"},\"uuid\":\"u1\","
        "\"timestamp\":\"2025-08-24T21:02:17.010Z\"}";
    CHECK(parse(s, &ln) == 0, "user line parses");
    CHECK_STR(ln.type, "user", "type user");
    CHECK_STR(ln.uuid, "u1", "uuid");
    CHECK(ln.parent_uuid == NULL, "null parentUuid is absent");
    CHECK_STR(ln.text, "fix the bug", "string content is the text");
    CHECK_STR(ln.cwd, "/Users/a/src/app", "cwd");
    CHECK_STR(ln.git_branch, "main", "gitBranch");
    CHECK_STR(ln.version, "1.0.89", "version");
    CHECK(ln.time_ms == 1756069337010LL, "timestamp parsed (%lld)", (long long)ln.time_ms);
    CHECK(!ln.has_usage && !ln.usage_countable, "user line has no usage");
    wrk_line_free(&ln);
}

static void test_assistant_tool_use(void) {
    struct wrk_line ln;
    const char *s =
        "{\"parentUuid\":\"u1\",\"isSidechain\":false,\"type\":\"assistant\",\"uuid\":\"a1\",\"timestamp\":"
        "\"2025-08-24T21:02:24.551Z\",\"requestId\":\"req_1\",\"sessionId\":\"s1\",\"version\":\"1.0.89\","
        "\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-"
        "1-"
        "20250805\",\"content\":[{\"type\":\"text\",\"text\":\"Let me look.\"},{\"type\":\"tool_use\",\"id\":"
        "\"toolu_1\",\"name\":\"Read\",\"input\":{\"file_path\":\"/src/a.c\"}},{\"type\":\"tool_use\",\"id\":"
        "\"toolu_2\",\"name\":\"Bash\",\"input\":{\"command\":\"make test\",\"description\":\"run\"}}],"
        "\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":3628,\"cache_read_input_tokens\":"
        "11506,"
        "\"cache_creation\":{\"ephemeral_5m_input_tokens\":3000,\"ephemeral_1h_input_tokens\":628},"
        "\"output_tokens\":98,\"service_tier\":\"standard\"}}}";
    CHECK(parse(s, &ln) == 0, "assistant line parses");
    CHECK_STR(ln.message_id, "msg_1", "message.id");
    CHECK_STR(ln.request_id, "req_1", "requestId");
    CHECK_STR(ln.model, "claude-opus-4-1-20250805", "model");
    CHECK(ln.has_usage && ln.usage_countable, "usage counted");
    CHECK(ln.usage.input == 3 && ln.usage.output == 98 && ln.usage.cache_read == 11506, "usage tokens");
    CHECK(ln.usage.cache_5m == 3000 && ln.usage.cache_1h == 628 && ln.usage.cache_creation == 3628,
          "cache creation split 5m/1h");
    CHECK(!ln.usage.has_speed, "no speed");
    CHECK(ln.nuses == 2, "two tool_use blocks");
    CHECK_STR(ln.uses[0].id, "toolu_1", "tool id");
    CHECK_STR(ln.uses[0].name, "Read", "tool name");
    CHECK_STR(ln.uses[0].summary, "/src/a.c", "Read summary is file_path");
    CHECK_STR(ln.uses[1].summary, "make test", "Bash summary is the command");
    CHECK_STR(ln.text, "Let me look.", "text block");
    wrk_line_free(&ln);
}

static void test_tool_result(void) {
    struct wrk_line ln;
    const char *s =
        "{\"type\":\"user\",\"uuid\":\"u2\",\"parentUuid\":\"a1\",\"timestamp\":\"2025-08-24T21:02:26Z\","
        "\"message\":{\"role\":\"user\",\"content\":[{\"tool_use_id\":\"toolu_2\",\"type\":"
        "\"tool_result\",\"content\":\"make: *** [test] Error 1\",\"is_error\":true},"
        "{\"tool_use_id\":\"toolu_1\",\"type\":\"tool_result\",\"content\":[{\"type\":\"text\","
        "\"text\":\"int main\"}],\"is_error\":null}]},\"toolUseResult\":\"Error: make failed\"}";
    CHECK(parse(s, &ln) == 0, "tool_result line parses");
    CHECK(ln.nresults == 2, "two results");
    CHECK_STR(ln.results[0].tool_use_id, "toolu_2", "result id");
    CHECK(ln.results[0].is_error == 1, "is_error true");
    CHECK_STR(ln.results[0].excerpt, "make: *** [test] Error 1", "error excerpt");
    CHECK(ln.results[1].is_error == 0 && ln.results[1].excerpt == NULL, "is_error null is success");
    CHECK(ln.is_error == 1, "line is_error");
    wrk_line_free(&ln);
}

static void test_other_kinds(void) {
    struct wrk_line ln;
    CHECK(parse("{\"type\":\"summary\",\"summary\":\"Fix login bug\",\"leafUuid\":\"x\"}", &ln) == 0,
          "summary parses");
    CHECK_STR(ln.summary, "Fix login bug", "summary title");
    CHECK(ln.time_ms == INT64_MIN && ln.uuid == NULL, "summary has no time or uuid");
    wrk_line_free(&ln);

    CHECK(
        parse(
            "{\"type\":\"system\",\"subtype\":\"compact_boundary\",\"parentUuid\":null,\"logicalParentUuid\":"
            "\"p\",\"uuid\":\"c1\",\"timestamp\":\"2026-02-10T16:50:00.000Z\",\"compactMetadata\":"
            "{\"trigger\":\"auto\",\"preTokens\":150000}}",
            &ln) == 0,
        "system compact_boundary parses");
    CHECK_STR(ln.subtype, "compact_boundary", "subtype");
    wrk_line_free(&ln);

    CHECK(parse("{\"type\":\"file-history-snapshot\",\"messageId\":\"u1\",\"snapshot\":{\"messageId\":\"u1\","
                "\"trackedFileBackups\":{},\"timestamp\":\"2025-11-19T14:20:08.522Z\"},\"isSnapshotUpdate\":"
                "false}",
                &ln) == 0,
          "file-history-snapshot parses");
    CHECK(ln.message_id == NULL && ln.time_ms == INT64_MIN, "snapshot messageId is not a message id");
    wrk_line_free(&ln);

    CHECK(parse("{\"type\":\"queue-operation\",\"operation\":\"dequeue\",\"timestamp\":\"2025-11-19T14:20:08."
                "000Z\","
                "\"sessionId\":\"s\"}",
                &ln) == 0,
          "queue-operation parses");
    CHECK_STR(ln.type, "queue-operation", "type queue-operation");
    wrk_line_free(&ln);

    CHECK(
        parse("{\"type\":\"progress\",\"data\":{\"type\":\"agent_progress\",\"message\":{\"message\":{\"id\":"
              "\"m\","
              "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}},\"timestamp\":\"2026-02-10T16:50:00Z\"}",
              &ln) == 0,
        "progress parses");
    CHECK(!ln.has_usage, "usage nested under data is not the line's usage");
    wrk_line_free(&ln);

    CHECK(parse("{\"uuid\":\"z\",\"weird\":1}", &ln) == 0, "line without type parses");
    CHECK_STR(ln.type, "unknown", "missing type -> unknown");
    wrk_line_free(&ln);
}

static void test_synthetic_and_filters(void) {
    struct wrk_line ln;
    CHECK(
        parse(
            "{\"type\":\"assistant\",\"uuid\":\"e\",\"timestamp\":\"2026-07-15T17:40:12.594Z\",\"requestId\":"
            "\"req_x\",\"isApiErrorMessage\":true,\"error\":\"rate_limit\",\"message\":{\"model\":\"<"
            "synthetic>\","
            "\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"limit\"}]}}",
            &ln) == 0,
        "API error line parses");
    CHECK(ln.is_error && !ln.has_usage && !ln.usage_countable, "API error: is_error, no usage");
    wrk_line_free(&ln);

    /* ccusage 20 drops lines written as "usage": { (re-serialised) */
    CHECK(parse("{\"type\":\"assistant\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"message\":{\"id\":\"m\","
                "\"usage\": "
                "{\"input_tokens\":1,\"output_tokens\":2}}}",
                &ln) == 0,
          "re-serialised line parses");
    CHECK(ln.has_usage && !ln.usage_countable, "re-serialised usage is not counted");
    wrk_line_free(&ln);

    CHECK(
        parse(
            "{\"type\":\"assistant\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"cwd\":null,\"message\":{\"id\":"
            "\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2,\"speed\":\"fast\"}}}",
            &ln) == 0,
        "null cwd line parses");
    CHECK(!ln.usage_countable, "a null cwd makes ccusage skip the line");
    CHECK(ln.usage.has_speed && ln.usage.fast, "speed fast");
    wrk_line_free(&ln);

    CHECK(
        parse(
            "{\"type\":\"assistant\",\"version\":\"abc\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"message\":{"
            "\"id\":\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}}",
            &ln) == 0,
        "bad version line parses");
    CHECK(!ln.usage_countable, "a non-semver version is not counted");
    wrk_line_free(&ln);
}

static void test_sanitise(void) {
    size_t n;
    int changed = 0;
    char *s = wrk_sanitize_utf8("a\xff"
                                "b",
                                3, &n, &changed);
    CHECK(changed &&
              strcmp(s, "a\xEF\xBF\xBD"
                        "b") == 0 &&
              n == 5,
          "invalid byte -> U+FFFD");
    free(s);
    s = wrk_sanitize_utf8("a\0b", 3, &n, &changed);
    CHECK(changed && strcmp(s, "a\xEF\xBF\xBD"
                               "b") == 0,
          "NUL -> U+FFFD");
    free(s);
    s = wrk_sanitize_utf8("\xC3\xA9t\xC3\xA9", 5, &n, &changed);
    CHECK(!changed && n == 5, "valid UTF-8 unchanged");
    free(s);
    s = wrk_sanitize_utf8("\xED\xA0\x80", 3, &n, &changed);
    CHECK(changed, "encoded surrogate is invalid");
    free(s);
    s = wrk_sanitize_utf8("\xE2\x82", 2, &n, &changed);
    CHECK(changed && n == 6, "truncated sequence replaced byte by byte");
    free(s);
    s = wrk_strndup_utf8("\xC3\xA9\xC3\xA9", 4, 3);
    CHECK(strcmp(s, "\xC3\xA9") == 0, "bounded copy does not split a sequence");
    free(s);

    struct wrk_line ln;
    const char *nul =
        "{\"type\":\"user\",\"uuid\":\"n\",\"timestamp\":\"2025-11-21T10:01:00.000Z\",\"message\":"
        "{\"role\":\"user\",\"content\":\"a\\u0000b\"}}";
    CHECK(parse(nul, &ln) == 0, "\\u0000 line is not poison");
    CHECK(ln.text && strcmp(ln.text, "a\xEF\xBF\xBD"
                                     "b") == 0,
          "NUL in text stored as U+FFFD");
    CHECK(ln.raw_json && !strstr(ln.raw_json, "\\u0000") && ln.repaired, "raw jsonb has no \\u0000");
    wrk_line_free(&ln);

    const char bad[] = "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"caf\xe9\"}}";
    char err[128];
    CHECK(wrk_line_parse(bad, sizeof(bad) - 1, &ln, err, sizeof(err)) == 0,
          "invalid UTF-8 line is not poison");
    CHECK(ln.repaired && strstr(ln.text, "caf\xEF\xBF\xBD") != NULL, "invalid byte repaired in text");
    wrk_line_free(&ln);

    CHECK(wrk_line_parse("not json", 8, &ln, err, sizeof(err)) == -1, "non-JSON is poison (%s)", err);
    CHECK(wrk_line_parse("[1,2]", 5, &ln, err, sizeof(err)) == -1, "a JSON array is poison");
    CHECK(wrk_line_parse("", 0, &ln, err, sizeof(err)) == -1, "empty payload is poison");
    wrk_line_free(&ln);
}

static void test_bounds(void) {
    size_t big = WRK_TEXT_MAX + 5000;
    char *s = malloc(big + 100);
    strcpy(s, "{\"type\":\"user\",\"message\":{\"content\":\"");
    size_t o = strlen(s);
    memset(s + o, 'x', big);
    strcpy(s + o + big, "\"}}");
    struct wrk_line ln;
    CHECK(parse(s, &ln) == 0, "huge line parses");
    CHECK(ln.text && strlen(ln.text) == WRK_TEXT_MAX, "text bounded to 64 KB");
    wrk_line_free(&ln);
    free(s);
}

/* Session counters (wrk_line_count) and file actions (wrk_file_action). */
static void test_counts(void) {
    struct wrk_line ln;
    struct wrk_line_counts c;
    CHECK(parse("{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"hi\"}}", &ln) == 0,
          "plain user line parses");
    wrk_line_count(&ln, &c);
    CHECK(c.user_message == 1 && c.tool_calls == 0 && c.interruption == 0, "typed prompt is a user message");
    wrk_line_free(&ln);
    CHECK(parse("{\"type\":\"user\",\"isMeta\":true,\"message\":{\"content\":\"<caveat>\"}}", &ln) == 0,
          "meta line parses");
    wrk_line_count(&ln, &c);
    CHECK(ln.is_meta && c.user_message == 0, "isMeta user line is not a user message");
    wrk_line_free(&ln);
    CHECK(parse("{\"type\":\"user\",\"isSidechain\":true,\"message\":{\"content\":\"task prompt\"}}", &ln) ==
              0,
          "sidechain prompt parses");
    wrk_line_count(&ln, &c);
    CHECK(c.user_message == 0, "sub-agent prompt is not a user message");
    wrk_line_free(&ln);
    CHECK(parse("{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":"
                "\"[Request interrupted by user]\"}]}}",
                &ln) == 0,
          "interruption parses");
    wrk_line_count(&ln, &c);
    CHECK(c.interruption == 1 && c.user_message == 0, "interruption counted, not a user message");
    wrk_line_free(&ln);
    CHECK(parse("{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
                "\"t1\",\"is_error\":true,\"content\":\"boom\"},{\"type\":\"tool_result\",\"tool_use_id\":"
                "\"t2\",\"is_error\":false}]}}",
                &ln) == 0,
          "tool results parse");
    wrk_line_count(&ln, &c);
    CHECK(c.tool_errors == 1 && c.user_message == 0, "one tool error, tool results are not user messages");
    wrk_line_free(&ln);
    CHECK(parse("{\"type\":\"assistant\",\"isApiErrorMessage\":true,\"message\":{\"model\":\"<synthetic>\","
                "\"content\":[{\"type\":\"tool_use\",\"id\":\"t3\",\"name\":\"NotebookEdit\",\"input\":"
                "{\"notebook_path\":\"/n.ipynb\"}},{\"type\":\"tool_use\",\"id\":\"t4\",\"name\":\"Bash\","
                "\"input\":{\"command\":\"ls\"}}]}}",
                &ln) == 0,
          "assistant line parses");
    wrk_line_count(&ln, &c);
    CHECK(ln.is_api_error && c.api_error == 1 && c.tool_calls == 2 && c.user_message == 0,
          "api error and two tool calls counted");
    CHECK_STR(ln.uses[0].path, "/n.ipynb", "notebook_path is the file path");
    CHECK(ln.uses[1].path == NULL, "Bash has no file path");
    CHECK_STR(ln.uses[1].summary, "ls", "Bash summary is the command");
    wrk_line_free(&ln);
    CHECK_STR(wrk_file_action("Read"), "read", "Read -> read");
    CHECK_STR(wrk_file_action("Write"), "write", "Write -> write");
    CHECK_STR(wrk_file_action("Edit"), "edit", "Edit -> edit");
    CHECK_STR(wrk_file_action("MultiEdit"), "edit", "MultiEdit -> edit");
    CHECK_STR(wrk_file_action("NotebookEdit"), "edit", "NotebookEdit -> edit");
    CHECK(wrk_file_action("Grep") == NULL && wrk_file_action(NULL) == NULL, "other tools: no file action");
}

int main(void) {
    test_counts();
    test_user_string();
    test_assistant_tool_use();
    test_tool_result();
    test_other_kinds();
    test_synthetic_and_filters();
    test_sanitise();
    test_bounds();
    OBS_TEST_END();
}
