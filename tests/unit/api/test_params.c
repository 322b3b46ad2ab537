/* test_params.c - unit tests of api/api_params.c: cursor round trip and
 * tampering, base64url, time parsing, query-string validation and the JSON
 * error body. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../../api/api_params.h"
#include "../obs_test.h"

static void test_cursor(void) {
    struct api_cursor c = {.ts_us = 1735689600123456LL}, d;
    strcpy(c.id, "4f1c2d3e-aaaa-bbbb-cccc-0123456789ab");
    char txt[API_MAX_CURSOR_LEN + 1];
    CHECK(api_cursor_encode(&c, "s", txt, sizeof(txt)) == 0, "cursor encodes");
    CHECK(strspn(txt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(txt),
          "cursor is base64url text without padding");
    CHECK(api_cursor_decode(txt, "s", &d) == 0 && d.ts_us == c.ts_us && strcmp(d.id, c.id) == 0,
          "cursor round-trips time and id");
    CHECK(api_cursor_decode(txt, "e", &d) < 0, "cursor of another list is rejected");

    /* Flip every character in turn: every edit must be rejected. */
    int accepted = 0;
    size_t n = strlen(txt);
    for (size_t i = 0; i < n; i++) {
        char t[sizeof(txt)];
        strcpy(t, txt);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        if (api_cursor_decode(t, "s", &d) == 0) accepted++;
    }
    CHECK(accepted == 0, "no single-character edit of a cursor is accepted (%d were)", accepted);
    char t2[sizeof(txt)];
    strcpy(t2, txt);
    t2[n - 3] = '\0';
    CHECK(api_cursor_decode(t2, "s", &d) < 0, "truncated cursor is rejected");
    CHECK(api_cursor_decode("", "s", &d) < 0, "empty cursor is rejected");
    CHECK(api_cursor_decode("!!!!", "s", &d) < 0, "non-base64 cursor is rejected");
    CHECK(api_cursor_decode("abc=", "s", &d) < 0, "padded cursor is rejected");

    /* A cursor someone built by hand without the checksum. */
    char forged[128], enc[256];
    snprintf(forged, sizeof(forged), "1|s|1735689600123456|x|0000000000000000");
    api_b64url_encode((const unsigned char *)forged, strlen(forged), enc);
    CHECK(api_cursor_decode(enc, "s", &d) < 0, "hand-made cursor with a wrong checksum is rejected");

    char big[API_MAX_CURSOR_LEN + 10];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(api_cursor_decode(big, "s", &d) < 0, "over-long cursor is rejected");

    struct api_cursor neg = {.ts_us = -5};
    strcpy(neg.id, "x");
    CHECK(api_cursor_encode(&neg, "e", txt, sizeof(txt)) == 0 && api_cursor_decode(txt, "e", &d) == 0 &&
              d.ts_us == -5,
          "negative times (before 1970) round-trip");
    char small[8];
    CHECK(api_cursor_encode(&c, "s", small, sizeof(small)) < 0, "encode into a too-small buffer fails");
}

static void test_b64(void) {
    char out[32];
    unsigned char dec[32];
    api_b64url_encode((const unsigned char *)"\xfb\xff", 2, out);
    CHECK_STR(out, "-_8", "base64url uses - and _");
    CHECK(api_b64url_decode("-_8", dec, sizeof(dec)) == 2 && dec[0] == 0xfb && dec[1] == 0xff,
          "base64url decodes - and _");
    CHECK(api_b64url_decode("-_9", dec, sizeof(dec)) < 0, "non-canonical trailing bits are rejected");
    CHECK(api_b64url_decode("A", dec, sizeof(dec)) < 0, "impossible length is rejected");
    CHECK(api_b64url_decode("AAAAAAAA", dec, 2) < 0, "output overflow is rejected");
}

static void test_time(void) {
    int64_t ms;
    CHECK(api_parse_time("2025-08-24T04:16:32.053Z", &ms) == 0 && ms == 1756008992053LL, "ISO time with ms");
    CHECK(api_parse_time("2025-08-24T04:16:32Z", &ms) == 0 && ms == 1756008992000LL,
          "ISO time without fraction");
    CHECK(api_parse_time("2025-08-24T06:16:32+02:00", &ms) == 0 && ms == 1756008992000LL,
          "ISO time with offset");
    CHECK(api_parse_time("2025-08-24T06:16:32 02:00", &ms) == 0 && ms == 1756008992000LL,
          "form-decoded '+' offset (space) is accepted");
    CHECK(api_parse_time("2025-08-24", &ms) == 0 && ms == 1755993600000LL, "date means midnight UTC");
    const char *bad[] = {"",
                         "yesterday",
                         "2025-13-01",
                         "2025-08-24T25:00:00Z",
                         "2025-08-24T04:16:32",
                         "2025-08-24T04:16:32.Z",
                         "2025-08-24T04:16:32Zjunk",
                         "1756008992",
                         "2025-8-4",
                         "2025-08-24 04:16:32Z",
                         NULL};
    for (int i = 0; bad[i]; i++)
        CHECK(api_parse_time(bad[i], &ms) < 0, "malformed time '%s' is rejected", bad[i]);
    long v;
    CHECK(api_parse_int_range("50", 1, 500, &v) == 0 && v == 50, "limit 50 parses");
    CHECK(api_parse_int_range("0", 1, 500, &v) < 0, "limit 0 is out of range");
    CHECK(api_parse_int_range("501", 1, 500, &v) < 0, "limit 501 is out of range");
    CHECK(api_parse_int_range("-1", 1, 500, &v) < 0, "negative limit is out of range");
    CHECK(api_parse_int_range("1e2", 1, 500, &v) < 0, "limit 1e2 is not a plain integer");
    CHECK(api_parse_int_range(" 5", 1, 500, &v) < 0, "limit with a space is rejected");
    CHECK(api_parse_int_range("99999999999999999999", 1, 500, &v) < 0, "huge limit is rejected");
}

/* Parse raw with allowed names and the sessions rules; returns the field of
 * the first error, "" for a query-level error, or NULL when it is valid. */
static const char *field_of(const char *raw) {
    static char field[64];
    static const char *const allowed[] = {"since", "until", "project", "limit", "cursor", NULL};
    struct api_query q;
    struct api_param_err err;
    struct api_list_params lp;
    const char *res = NULL;
    if (api_query_parse(raw, &q, &err) < 0 || api_query_check_allowed(&q, allowed, &err) < 0 ||
        api_list_params_parse(&q, "s", 50, 500, &lp, &err) < 0) {
        strcpy(field, err.field);
        res = field;
    }
    api_query_free(&q);
    return res;
}

static void test_query(void) {
    CHECK(field_of(NULL) == NULL, "no query string is fine");
    CHECK(field_of("") == NULL, "empty query string is fine");
    CHECK(field_of("limit=10&since=2025-01-01T00:00:00Z&until=2025-02-01&project=%2Fhome%2Fx") == NULL,
          "valid parameters pass");
    CHECK_STR(field_of("limit=0"), "limit", "limit=0 names field limit");
    CHECK_STR(field_of("limit=abc"), "limit", "limit=abc names field limit");
    CHECK_STR(field_of("limit=501"), "limit", "limit=501 names field limit");
    CHECK_STR(field_of("since=nope"), "since", "bad since names field since");
    CHECK_STR(field_of("until=2025-02-30T99:00:00Z"), "until", "bad until names field until");
    CHECK_STR(field_of("since=2025-02-01&until=2025-01-01"), "until", "until before since names until");
    CHECK_STR(field_of("cursor=zzz"), "cursor", "bad cursor names field cursor");
    CHECK_STR(field_of("sort=asc"), "sort", "unknown parameter is named");
    CHECK_STR(field_of("limit=1&limit=2"), "limit", "repeated parameter is named");
    CHECK_STR(field_of("project=%zz"), "project", "bad percent-escape names its parameter");
    CHECK_STR(field_of("project=a%00b"), "project", "encoded NUL is rejected");
    CHECK_STR(field_of("project="), "project", "empty project is rejected");
    CHECK_STR(field_of("%C3%28=1"), "?(", "non-UTF-8 parameter names are made printable");

    struct api_query q;
    struct api_param_err err;
    struct api_list_params lp;
    CHECK(api_query_parse("project=%2Fa+b&limit=7", &q, &err) == 0, "parses");
    CHECK(api_list_params_parse(&q, "s", 50, 500, &lp, &err) == 0, "valid");
    CHECK_STR(lp.project, "/a b", "percent-escapes and '+' are decoded");
    CHECK(lp.limit == 7 && !lp.has_since && !lp.has_cursor, "limit 7, no since, no cursor");
    api_query_free(&q);
    CHECK(api_query_parse("", &q, &err) == 0 && api_list_params_parse(&q, "s", 50, 500, &lp, &err) == 0 &&
              lp.limit == 50,
          "default limit is 50");
    api_query_free(&q);
    CHECK(api_query_parse("group_by=month", &q, &err) == 0 &&
              api_list_params_parse(&q, NULL, 0, 0, &lp, &err) < 0 && strcmp(err.field, "group_by") == 0,
          "group_by=month names group_by");
    api_query_free(&q);

    /* New filters: each bad value names its field. */
    static const struct {
        const char *qs, *field;
    } bad[] = {{"min_cost=-1", "min_cost"},
               {"min_cost=1e3", "min_cost"},
               {"min_cost=1.0000000001", "min_cost"},
               {"has_errors=yes", "has_errors"},
               {"has_insights=", "has_insights"},
               {"sort=name", "sort"},
               {"tz=..%2Fetc", "tz"},
               {"tz=Europe%2FBerlin;", "tz"},
               {"kind=other", "kind"},
               {"severity=high", "severity"},
               {"q=+++", "q"},
               {"user=", "user"},
               {"git_branch=", "git_branch"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int ok = api_query_parse(bad[i].qs, &q, &err) == 0 &&
                 api_list_params_parse(&q, "s", 50, 500, &lp, &err) < 0 &&
                 strcmp(err.field, bad[i].field) == 0;
        char what[128];
        snprintf(what, sizeof(what), "%s is refused naming %s", bad[i].qs, bad[i].field);
        CHECK(ok, what);
        api_query_free(&q);
    }
    CHECK(api_query_parse(
              "min_cost=0.25&has_errors=1&has_insights=false&sort=cost&tz=America%2FArgentina%2FBuenos_Aires"
              "&user=u&host=h&model=m&git_branch=main&kind=cost_outlier&severity=critical&q=foo+bar",
              &q, &err) == 0 &&
              api_list_params_parse(&q, "s", 50, 500, &lp, &err) == 0,
          "every new parameter accepted");
    CHECK(lp.sort == API_SORT_COST && !strcmp(lp.min_cost, "0.25") && !strcmp(lp.has_errors, "true") &&
              !strcmp(lp.has_insights, "false") && !strcmp(lp.tz, "America/Argentina/Buenos_Aires") &&
              !strcmp(lp.q, "foo bar") && !strcmp(lp.git_branch, "main"),
          "values are normalised (booleans to true/false)");
    api_query_free(&q);

    /* A cursor of one sort is refused by another sort. */
    struct api_cursor c = {.ts_us = 123};
    strcpy(c.id, "sess");
    char text[API_MAX_CURSOR_LEN + 1], qs[700];
    CHECK(api_cursor_encode(&c, api_sort_cursor_kind(API_SORT_COST), text, sizeof(text)) == 0, "cost cursor");
    snprintf(qs, sizeof(qs), "sort=cost&cursor=%s", text);
    CHECK(api_query_parse(qs, &q, &err) == 0 && api_list_params_parse(&q, "s", 50, 500, &lp, &err) == 0 &&
              lp.cursor.ts_us == 123,
          "a sort=cost cursor is accepted with sort=cost");
    api_query_free(&q);
    snprintf(qs, sizeof(qs), "sort=tokens&cursor=%s", text);
    CHECK(api_query_parse(qs, &q, &err) == 0 && api_list_params_parse(&q, "s", 50, 500, &lp, &err) < 0 &&
              !strcmp(err.field, "cursor"),
          "... and refused with sort=tokens");
    api_query_free(&q);
    snprintf(qs, sizeof(qs), "cursor=%s", text);
    CHECK(api_query_parse(qs, &q, &err) == 0 && api_list_params_parse(&q, "s", 50, 500, &lp, &err) < 0,
          "... and without sort (start)");
    api_query_free(&q);
    CHECK(api_sort_parse("duration") == API_SORT_DURATION && api_sort_parse("x") < 0 &&
              strcmp(api_sort_cursor_kind(API_SORT_START), "s") == 0,
          "sort names and the start kind stays \"s\" (old cursors keep working)");
}

static void test_error_json(void) {
    char *s = api_error_json("bad_parameter", "limit must be \"1..500\"", "limit");
    json_error_t je;
    json_t *j = s ? json_loads(s, 0, &je) : NULL;
    json_t *e = j ? json_object_get(j, "error") : NULL;
    CHECK(e && json_object_size(j) == 1, "error body has exactly one key 'error'");
    CHECK(e && json_is_string(json_object_get(e, "code")) &&
              strcmp(json_string_value(json_object_get(e, "code")), "bad_parameter") == 0,
          "error.code");
    CHECK(e && strcmp(json_string_value(json_object_get(e, "message")), "limit must be \"1..500\"") == 0,
          "error.message is escaped and survives");
    CHECK(e && strcmp(json_string_value(json_object_get(e, "field")), "limit") == 0, "error.field");
    json_decref(j);
    free(s);
    s = api_error_json("not_found", "no such session", NULL);
    j = s ? json_loads(s, 0, &je) : NULL;
    CHECK(j && json_object_get(json_object_get(j, "error"), "field") == NULL, "field is omitted when NULL");
    json_decref(j);
    free(s);
}

int main(void) {
    test_cursor();
    test_b64();
    test_time();
    test_query();
    test_error_json();
    OBS_TEST_END();
}
