/* pk_test.h - a tiny TAP (Test Anything Protocol) helper for unit tests, header only.
 *
 * Each check prints "ok N - name" or "not ok N - name" on stdout; a failed check adds
 * "# " diagnostic lines (file:line, got, expected). Use it from one .c file per test
 * program:
 *
 *     int main(void) {
 *         int rc;
 *         ... apr_app_initialize(), pool, checks ...
 *         PK_TEST_STR(got, "expected", "what is checked");
 *         rc = PK_TEST_DONE();      prints "1..N"; 1 if any check failed, else 0
 *         ... free everything, apr_terminate() ...
 *         return rc;
 *     }
 *
 * Every check macro is an expression worth 1 (passed) or 0 (failed).
 */
#ifndef PK_TEST_H
#define PK_TEST_H

#include <stdio.h>
#include <string.h>

/** Counters of one test program. */
typedef struct {
    int run;    /* checks so far */
    int failed; /* failed checks so far */
} pk_test_state_t;

/** The counters of this test program. */
static inline pk_test_state_t *pk_test_state(void)
{
    static pk_test_state_t state;
    return &state;
}

/** Record and print the result of check name; returns ok. */
static inline int pk_test_result(int ok, const char *name, const char *file, int line)
{
    pk_test_state_t *st = pk_test_state();

    ++st->run;
    if (!ok)
        ++st->failed;
    printf("%s %d - %s\n", ok ? "ok" : "not ok", st->run, name ? name : "");
    if (!ok)
        printf("#   failed at %s:%d\n", file, line);
    fflush(stdout);
    return ok;
}

/** Check that cond is true. */
static inline int pk_test_ok(int cond, const char *name, const char *file, int line)
{
    return pk_test_result(cond, name, file, line);
}

/** Check two strings for equality (NULL equals only NULL). */
static inline int pk_test_str(const char *got, const char *expected, const char *name,
                              const char *file, int line)
{
    int ok = (got == NULL || expected == NULL) ? got == expected
                                               : strcmp(got, expected) == 0;

    pk_test_result(ok, name, file, line);
    if (!ok) {
        printf("#        got: %s%s%s\n", got ? "\"" : "", got ? got : "NULL",
               got ? "\"" : "");
        printf("#   expected: %s%s%s\n", expected ? "\"" : "",
               expected ? expected : "NULL", expected ? "\"" : "");
    }
    return ok;
}

/** Check two integers for equality. */
static inline int pk_test_int(long long got, long long expected, const char *name,
                              const char *file, int line)
{
    int ok = (got == expected);

    pk_test_result(ok, name, file, line);
    if (!ok) {
        printf("#        got: %lld\n", got);
        printf("#   expected: %lld\n", expected);
    }
    return ok;
}

/** Print the plan "1..N"; returns the exit status: 1 if any check failed, else 0. */
static inline int pk_test_done(void)
{
    pk_test_state_t *st = pk_test_state();

    printf("1..%d\n", st->run);
    if (st->failed)
        printf("# %d of %d checks failed\n", st->failed, st->run);
    fflush(stdout);
    return st->failed ? 1 : 0;
}

/** Pass if cond is true. */
#define PK_TEST_OK(cond, name) pk_test_ok(!!(cond), (name), __FILE__, __LINE__)
/** Pass if the strings got and expected are equal (either may be NULL). */
#define PK_TEST_STR(got, expected, name) \
    pk_test_str((got), (expected), (name), __FILE__, __LINE__)
/** Pass if the integers got and expected are equal (compared as long long). */
#define PK_TEST_INT(got, expected, name) \
    pk_test_int((long long)(got), (long long)(expected), (name), __FILE__, __LINE__)
/** Print the plan; evaluates to the program's exit status (0 all passed, 1 otherwise). */
#define PK_TEST_DONE() pk_test_done()

#endif /* PK_TEST_H */
