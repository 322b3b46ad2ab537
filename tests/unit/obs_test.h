/* obs_test.h - the unit-test harness: CHECK() records one assertion as a
 * PASS/FAIL line; OBS_TEST_END prints "N passed, N failed" (which
 * tests/run.sh adds up) and sets the exit code. Header-only. */
#ifndef OBS_TEST_H
#define OBS_TEST_H

#include <stdio.h>
#include <string.h>

static int obs_test_passed, obs_test_failed;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (cond) {                                                                                          \
            obs_test_passed++;                                                                               \
            printf("PASS: %s: ", __FILE__);                                                                  \
        } else {                                                                                             \
            obs_test_failed++;                                                                               \
            printf("FAIL: %s:%d: (%s) ", __FILE__, __LINE__, #cond);                                         \
        }                                                                                                    \
        printf(__VA_ARGS__);                                                                                 \
        printf("\n");                                                                                        \
    } while (0)

#define CHECK_STR(got, want, ...)                                                                            \
    do {                                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                                \
        CHECK(g_ &&w_ &&strcmp(g_, w_) == 0, __VA_ARGS__);                                                   \
        if (!(g_ && w_ && strcmp(g_, w_) == 0))                                                              \
            printf("      got '%s', want '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");                   \
    } while (0)

#define OBS_TEST_END()                                                                                       \
    do {                                                                                                     \
        printf("%d passed, %d failed\n", obs_test_passed, obs_test_failed);                                  \
        return obs_test_failed ? 1 : 0;                                                                      \
    } while (0)

#endif
