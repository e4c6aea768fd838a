/*
 * A minimal TAP producer for the C unit tests: each check prints one
 * `ok N - name` or `not ok N - name` line with the values that differed,
 * and tap_done() prints the plan and returns the exit status.
 */
#ifndef WM_TAP_H
#define WM_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int
tap_ok(int cond, const char *file, int line, const char *name)
{
    tap_n++;
    if (cond) {
        printf("ok %d - %s\n", tap_n, name);
    } else {
        tap_failed++;
        printf("not ok %d - %s\n#   at %s:%d\n", tap_n, name, file, line);
    }
    fflush(stdout);
    return cond;
}

#define ok(cond, name) tap_ok(!!(cond), __FILE__, __LINE__, name)

#define is_int(got, want, name)                                                \
    do {                                                                       \
        long long g_ = (long long) (got), w_ = (long long) (want);             \
        if (!ok(g_ == w_, name)) {                                             \
            printf("#   got: %lld\n#   expected: %lld\n", g_, w_);             \
        }                                                                      \
    } while (0)

#define is_str(got, want, name)                                                \
    do {                                                                       \
        const char *g_ = (got), *w_ = (want);                                  \
        if (!ok(g_ && w_ && strcmp(g_, w_) == 0, name)) {                      \
            printf("#   got: '%s'\n#   expected: '%s'\n", g_ ? g_ : "(null)",  \
                   w_ ? w_ : "(null)");                                        \
        }                                                                      \
    } while (0)

#define diag(...)                                                              \
    do {                                                                       \
        printf("# ");                                                          \
        printf(__VA_ARGS__);                                                   \
        printf("\n");                                                          \
    } while (0)

static inline int
tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif /* WM_TAP_H */
