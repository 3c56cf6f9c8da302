/* Tiny assertion helpers for clattn's tests. Every failed check prints what it compared, with
 * the values, and ends the test with exit status 1. */
#ifndef CLATTN_TEST_CHECK_H
#define CLATTN_TEST_CHECK_H

#include <clattn.h>
#include <stddef.h>

void check_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4), noreturn))
#endif
    ;

/* Counts one passed check; check_done() prints the summary and returns the exit status. */
void check_pass(void);
int check_done(const char *test_name);

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) check_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);     \
    check_pass();                                                        \
  } while (0)

#define CHECK_EQ(a, b)                                                                \
  do {                                                                                \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);                   \
    if (check_a_ != check_b_)                                                         \
      check_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", #a, #b,        \
                 check_a_, check_b_);                                                 \
    check_pass();                                                                     \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                         \
  do {                                                                                \
    double check_a_ = (double)(a), check_b_ = (double)(b), check_t_ = (double)(tol); \
    if (!(check_a_ - check_b_ <= check_t_ && check_b_ - check_a_ <= check_t_))       \
      check_fail(__FILE__, __LINE__, "CHECK_NEAR(%s, %s, %s): %.9g vs %.9g", #a, #b,  \
                 #tol, check_a_, check_b_);                                           \
    check_pass();                                                                     \
  } while (0)

/* Checks that a clattn call returns `expected`; on mismatch prints both status names and
 * the context's last error message. `ctx` may be NULL (context-less calls). */
#define CHECK_STATUS(ctx, expr, expected)                                             \
  do {                                                                                \
    clattn_status check_s_ = (expr);                                                  \
    if (check_s_ != (expected))                                                       \
      check_fail(__FILE__, __LINE__, "%s returned %s, expected %s; last error: %s",  \
                 #expr, clattn_status_name(check_s_), clattn_status_name(expected),   \
                 clattn_last_error(ctx));                                             \
    check_pass();                                                                     \
  } while (0)

#define CHECK_OK(ctx, expr) CHECK_STATUS(ctx, expr, CLATTN_SUCCESS)

/* Checks that `haystack` contains `needle`. */
#define CHECK_CONTAINS(haystack, needle)                                              \
  do {                                                                                \
    const char *check_h_ = (haystack), *check_n_ = (needle);                          \
    if (!check_h_ || !strstr(check_h_, check_n_))                                     \
      check_fail(__FILE__, __LINE__, "CHECK_CONTAINS(%s, \"%s\"): got \"%s\"",        \
                 #haystack, check_n_, check_h_ ? check_h_ : "(null)");                \
    check_pass();                                                                     \
  } while (0)

#define CHECK_CL(expr)                                                                \
  do {                                                                                \
    cl_int check_e_ = (expr);                                                         \
    if (check_e_ != CL_SUCCESS)                                                       \
      check_fail(__FILE__, __LINE__, "%s failed: %s (%d)", #expr,                     \
                 clattn_cl_error_name(check_e_), (int)check_e_);                      \
    check_pass();                                                                     \
  } while (0)

#endif
