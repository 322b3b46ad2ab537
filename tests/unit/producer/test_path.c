/* test_path.c - session id rule, globs, fingerprint span, event id and
 * truncation/replacement detection of producer/prod_path.c. */
#include "../obs_test.h"
#include "../../../producer/prod_path.h"

#include <stdlib.h>

static const char *sid(const char *rel) {
    static char out[256];
    if (prod_session_id(rel, out, sizeof(out)) < 0) return "(error)";
    return out;
}

int main(void) {
    /* ccusage-20 path rule */
    CHECK_STR(sid("-Users-a-src-app/3f2a9c1e-7b4d.jsonl"), "3f2a9c1e-7b4d", "main file -> its stem");
    CHECK_STR(sid("-home-bob/9d3b/subagents/agent-a3f9c21.jsonl"), "9d3b", "subagents file -> session dir");
    CHECK_STR(sid("-home-bob/9d3b/subagents/deeper/agent-x.jsonl"), "9d3b",
              "nested under subagents -> session dir");
    CHECK_STR(sid("-Users-a/agent-e1c84ba5.jsonl"), "agent-e1c84ba5",
              "agent file directly in project dir -> its stem");
    CHECK_STR(sid("-Users-a/other/x.jsonl"), "other", "other layout -> parent dir name");
    CHECK_STR(sid("a/b/c/d/e.jsonl"), "d", "deep other layout -> parent dir name");
    CHECK_STR(sid("s.jsonl"), "s", "file directly in the root -> its stem");
    CHECK_STR(sid("p//s.jsonl"), "s", "doubled slash is ignored");
    CHECK(prod_session_id("", (char[8]){0}, 8) < 0, "empty path is an error");

    /* globs */
    CHECK(prod_glob_match_list("*.jsonl", "p/s.jsonl"), "*.jsonl matches at depth 2");
    CHECK(prod_glob_match_list("*.jsonl", "p/s/subagents/agent-1.jsonl"), "*.jsonl matches sub-agent files");
    CHECK(!prod_glob_match_list("*.jsonl", "p/sessions-index.json"), "*.jsonl does not match .json");
    CHECK(prod_glob_match_list("*.txt, */*/subagents/*", "p/s/subagents/agent-1.jsonl"),
          "second glob of a list matches (spaces trimmed)");
    CHECK(!prod_glob_match_list("", "p/s.jsonl"), "empty list matches nothing");
    CHECK(prod_glob_match_list("tmp/*", "tmp/x.jsonl") && !prod_glob_match_list("tmp/*", "p/tmp/x.jsonl"),
          "glob with / is anchored at the root");

    /* fingerprint span */
    CHECK(prod_fp_span("abc\ndef", 7, 7) == 4, "span is the first line including its newline");
    CHECK(prod_fp_span("abcdef", 6, 6) == 0, "no newline in a short file: not determined yet");
    char *big = malloc(3000);
    memset(big, 'x', 3000);
    CHECK(prod_fp_span(big, 3000, 3000) == PROD_FP_MAX, "long first line: capped at 1024 bytes");
    big[1023] = '\n';
    CHECK(prod_fp_span(big, 3000, 3000) == 1024, "newline at byte 1024 included");
    char fp1[PROD_FP_LEN], fp2[PROD_FP_LEN];
    prod_fingerprint("abc\n", 4, fp1);
    prod_fingerprint("abc\n", 4, fp2);
    CHECK(strlen(fp1) == 16 && strcmp(fp1, fp2) == 0, "fingerprint is 16 hex chars and deterministic");
    prod_fingerprint("abd\n", 4, fp2);
    CHECK(strcmp(fp1, fp2) != 0, "fingerprint differs for another first line");
    free(big);

    /* event id */
    char e1[PROD_EVENT_ID_LEN], e2[PROD_EVENT_ID_LEN];
    prod_event_id("t", "h", "p/s.jsonl", "1:2:abcd", 0, e1);
    prod_event_id("t", "h", "p/s.jsonl", "1:2:abcd", 0, e2);
    CHECK(strlen(e1) == 32 && strcmp(e1, e2) == 0, "event id is 32 hex chars and deterministic");
    prod_event_id("t", "h", "p/s.jsonl", "1:2:abcd", 1, e2);
    CHECK(strcmp(e1, e2) != 0, "event id depends on the offset");
    /* SHA-256("t\0h\0p/s.jsonl\0" "1:2:abcd\0" "0")[:16] computed with python hashlib */
    CHECK_STR(e1, "a9ce84e28458dd70f6f2ecb04bd90124", "event id matches an independent computation");
    /* the cached-prefix hasher gives the same ids */
    struct prod_eid *eid = prod_eid_new();
    CHECK(eid != NULL, "prod_eid_new");
    char e3[PROD_EVENT_ID_LEN];
    CHECK(prod_eid_prefix(eid, "t", "h", "p/s.jsonl", "1:2:abcd") == 0 && prod_eid_line(eid, 0, e3) == 0,
          "eid: prefix and line");
    CHECK_STR(e3, "a9ce84e28458dd70f6f2ecb04bd90124", "eid: same id as prod_event_id");
    int same = 1;
    int64_t offs[] = {1, 9, 10, 99, 123456789, 9007199254740993LL, INT64_MAX, -1};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        const char *path = i % 2 ? "p/s.jsonl" : "q/other/agent-1.jsonl";
        prod_event_id("t", "h", path, "1:2:abcd", offs[i], e2);
        same &= prod_eid_prefix(eid, "t", "h", path, "1:2:abcd") == 0 &&
                prod_eid_line(eid, offs[i], e3) == 0 && strcmp(e2, e3) == 0;
        prod_eid_line(eid, offs[i], e3); /* twice under one prefix */
        same &= strcmp(e2, e3) == 0;
    }
    CHECK(same, "eid: equal to prod_event_id across offsets and prefix changes");
    prod_eid_free(eid);
    char fid[128];
    prod_file_id(2049, 77, "00ff", fid, sizeof(fid));
    CHECK_STR(fid, "2049:77:00ff", "file id is dev:inode:fp");

    /* change detection */
    CHECK(prod_file_compare(1, 2, "aa", 100, 1, 2, "aa", 150) == PROD_FILE_SAME, "grown file is the same");
    CHECK(prod_file_compare(1, 2, "aa", 100, 1, 2, "aa", 100) == PROD_FILE_SAME,
          "unchanged file is the same");
    CHECK(prod_file_compare(1, 2, "aa", 100, 1, 2, "aa", 50) == PROD_FILE_TRUNCATED,
          "shorter file is truncated");
    CHECK(prod_file_compare(1, 2, "aa", 100, 1, 3, "aa", 150) == PROD_FILE_REPLACED,
          "other inode is replaced");
    CHECK(prod_file_compare(1, 2, "aa", 100, 9, 2, "aa", 150) == PROD_FILE_REPLACED,
          "other device is replaced");
    CHECK(prod_file_compare(1, 2, "aa", 100, 1, 2, "bb", 150) == PROD_FILE_REPLACED,
          "same inode, other first line is replaced (rewritten in place)");
    CHECK(prod_file_compare(1, 2, "", 0, 1, 2, "bb", 150) == PROD_FILE_SAME, "unknown old fp: same");
    CHECK(prod_file_compare(1, 2, "aa", 0, 1, 2, "", 0) == PROD_FILE_TRUNCATED, "emptied file is truncated");

    /* ~ expansion */
    char out[256];
    setenv("HOME", "/home/zed", 1);
    CHECK(prod_expand_home("~/.claude/projects", out, sizeof(out)) == 0 &&
              strcmp(out, "/home/zed/.claude/projects") == 0,
          "~/ expands to $HOME");
    CHECK(prod_expand_home("/abs", out, sizeof(out)) == 0 && strcmp(out, "/abs") == 0,
          "absolute path unchanged");
    CHECK(prod_expand_home("~", out, sizeof(out)) == 0 && strcmp(out, "/home/zed") == 0, "~ alone expands");
    OBS_TEST_END();
}
