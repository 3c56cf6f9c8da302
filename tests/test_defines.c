/* Build options from the sorted define list (src/defines.h): equal sets give byte-equal
 * strings whatever the order, values are replaced, bad names and values are refused, and
 * rendering behaves like snprintf. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "defines.h"

#define BASE "-cl-std=CL1.2"

static void render(const clattn__defines *d, char *out, size_t capacity) {
  size_t needed = clattn__defines_render(d, out, capacity);
  CHECK(needed < capacity);
  CHECK_EQ(strlen(out), needed);
}

static void check_rendered(const clattn__defines *d, const char *expected) {
  char out[4096];
  render(d, out, sizeof out);
  if (strcmp(out, expected) != 0)
    check_fail(__FILE__, __LINE__, "rendered \"%s\", expected \"%s\"", out, expected);
  check_pass();
}

static void test_empty(void) {
  clattn__defines d;
  memset(&d, 0x5a, sizeof d);
  clattn__defines_init(&d);
  CHECK_EQ(d.count, 0);
  check_rendered(&d, BASE);
}

static void test_order_independence(void) {
  static const char *names[] = {"TILE_N", "HEAD_DIM", "A", "_PRIVATE", "Zeta", "alpha", "B2",
                                "MASK_KIND", "AB", "A_B"};
  static const char *values[] = {"32", "64", "1", "x", "-7", "0.5f", "float", "2", "3", "4"};
  const size_t n = sizeof names / sizeof names[0];
  const char *expected =
      BASE " -DA=1 -DAB=3 -DA_B=4 -DB2=float -DHEAD_DIM=64 -DMASK_KIND=2 -DTILE_N=32"
           " -DZeta=-7 -D_PRIVATE=x -Dalpha=0.5f";

  /* Forward, backward, and a scrambled order all give the same bytes. */
  char first[4096], other[4096];
  clattn__defines d;
  clattn__defines_init(&d);
  for (size_t i = 0; i < n; i++) CHECK_EQ(clattn__defines_set(&d, names[i], values[i]), 0);
  CHECK_EQ(d.count, n);
  render(&d, first, sizeof first);
  if (strcmp(first, expected) != 0)
    check_fail(__FILE__, __LINE__, "rendered \"%s\", expected \"%s\"", first, expected);
  check_pass();
  /* Names ascend by strcmp in the stored list too. */
  for (size_t i = 1; i < d.count; i++) CHECK(strcmp(d.items[i - 1].name, d.items[i].name) < 0);

  clattn__defines_init(&d);
  for (size_t i = n; i-- > 0;) CHECK_EQ(clattn__defines_set(&d, names[i], values[i]), 0);
  render(&d, other, sizeof other);
  CHECK(strcmp(first, other) == 0);

  for (size_t step = 3; step <= 7; step += 4) { /* 3 and 7 are coprime with 10 */
    clattn__defines_init(&d);
    for (size_t k = 0, i = 0; k < n; k++, i = (i + step) % n)
      CHECK_EQ(clattn__defines_set(&d, names[i], values[i]), 0);
    render(&d, other, sizeof other);
    CHECK(strcmp(first, other) == 0);
  }
}

static void test_replacement(void) {
  clattn__defines d;
  clattn__defines_init(&d);
  CHECK_EQ(clattn__defines_set(&d, "TILE", "16"), 0);
  CHECK_EQ(clattn__defines_set(&d, "D", "64"), 0);
  CHECK_EQ(clattn__defines_set(&d, "TILE", "32"), 0);
  CHECK_EQ(d.count, 2);
  check_rendered(&d, BASE " -DD=64 -DTILE=32");
  CHECK_EQ(clattn__defines_set_int(&d, "D", 128), 0);
  CHECK_EQ(d.count, 2);
  check_rendered(&d, BASE " -DD=128 -DTILE=32");
  /* Replacing with a different order of sets still gives the same string. */
  clattn__defines e;
  clattn__defines_init(&e);
  CHECK_EQ(clattn__defines_set(&e, "TILE", "32"), 0);
  CHECK_EQ(clattn__defines_set_int(&e, "D", 7), 0);
  CHECK_EQ(clattn__defines_set_int(&e, "D", 128), 0);
  check_rendered(&e, BASE " -DD=128 -DTILE=32");
}

static void test_set_int(void) {
  clattn__defines d;
  clattn__defines_init(&d);
  CHECK_EQ(clattn__defines_set_int(&d, "NEG", -3), 0);
  CHECK_EQ(clattn__defines_set_int(&d, "ZERO", 0), 0);
  CHECK_EQ(clattn__defines_set_int(&d, "BIG", LLONG_MAX), 0);
  CHECK_EQ(clattn__defines_set_int(&d, "SMALL", LLONG_MIN), 0);
  check_rendered(&d, BASE " -DBIG=9223372036854775807 -DNEG=-3 -DSMALL=-9223372036854775808"
                          " -DZERO=0");
  CHECK_EQ(clattn__defines_set_int(&d, "1BAD", 1), -1);
  CHECK_EQ(d.count, 4);
}

static void test_invalid(void) {
  clattn__defines d;
  clattn__defines_init(&d);
  CHECK_EQ(clattn__defines_set(&d, "KEEP", "1"), 0);
  char long_name[CLATTN__DEFINE_TEXT + 1], max_name[CLATTN__DEFINE_TEXT];
  memset(long_name, 'N', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0'; /* 64 characters: one too many */
  memset(max_name, 'M', sizeof max_name - 1);
  max_name[sizeof max_name - 1] = '\0'; /* 63 characters: the longest allowed */

  const char *bad_names[] = {"", "1A", "A-B", "A B", "A=B", "A.B", "-DA", "A\"", "A\n",
                             "\xc3\xa9t\xc3\xa9", long_name};
  for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
    if (clattn__defines_set(&d, bad_names[i], "1") != -1)
      check_fail(__FILE__, __LINE__, "name \"%s\" was accepted", bad_names[i]);
    check_pass();
  }
  CHECK_EQ(clattn__defines_set(&d, NULL, "1"), -1);
  CHECK_EQ(clattn__defines_set(&d, "OK", NULL), -1);

  char long_value[CLATTN__DEFINE_TEXT + 1], max_value[CLATTN__DEFINE_TEXT];
  memset(long_value, '9', sizeof long_value - 1);
  long_value[sizeof long_value - 1] = '\0';
  memset(max_value, '8', sizeof max_value - 1);
  max_value[sizeof max_value - 1] = '\0';
  const char *bad_values[] = {"a b", "a\tb", "a\nb", " 1", "1 ", "\"x\"", "'x'", "a\"b",
                              long_value};
  for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
    if (clattn__defines_set(&d, "OK", bad_values[i]) != -1)
      check_fail(__FILE__, __LINE__, "value \"%s\" was accepted", bad_values[i]);
    check_pass();
  }
  /* Refusals change nothing, not even an existing entry's value. */
  CHECK_EQ(clattn__defines_set(&d, "KEEP", "two words"), -1);
  CHECK_EQ(d.count, 1);
  check_rendered(&d, BASE " -DKEEP=1");

  /* The limits themselves are fine. */
  CHECK_EQ(clattn__defines_set(&d, max_name, max_value), 0);
  CHECK_EQ(clattn__defines_set(&d, "_", "(1+2)"), 0);
  CHECK_EQ(d.count, 3);
  char expected[512];
  snprintf(expected, sizeof expected, BASE " -DKEEP=1 -D%s=%s -D_=(1+2)", max_name, max_value);
  check_rendered(&d, expected);
}

static void test_render_capacity(void) {
  clattn__defines d;
  clattn__defines_init(&d);
  CHECK_EQ(clattn__defines_set(&d, "HEAD_DIM", "64"), 0);
  CHECK_EQ(clattn__defines_set(&d, "TILE", "32"), 0);
  const char *full = BASE " -DHEAD_DIM=64 -DTILE=32";
  const size_t len = strlen(full);

  /* Every capacity from 0 to beyond the length: the return is always the full length, the
   * output a NUL-terminated prefix of capacity - 1 bytes, and nothing past capacity is
   * touched. */
  for (size_t capacity = 0; capacity <= len + 2; capacity++) {
    char out[128];
    memset(out, '#', sizeof out);
    size_t needed = clattn__defines_render(&d, out, capacity);
    CHECK_EQ(needed, len);
    if (capacity == 0) {
      CHECK_EQ(out[0], '#');
    } else {
      size_t kept = capacity - 1 < len ? capacity - 1 : len;
      CHECK(memcmp(out, full, kept) == 0);
      CHECK_EQ(out[kept], '\0');
    }
    for (size_t k = capacity; k < sizeof out; k++)
      if (out[k] != '#')
        check_fail(__FILE__, __LINE__, "capacity %zu: byte %zu written", capacity, k);
    check_pass();
  }
  CHECK_EQ(clattn__defines_render(&d, NULL, 0), len);
}

static void test_full(void) {
  clattn__defines d;
  clattn__defines_init(&d);
  char name[32];
  for (int i = 0; i < CLATTN__MAX_DEFINES; i++) {
    snprintf(name, sizeof name, "D%02d", CLATTN__MAX_DEFINES - 1 - i);
    CHECK_EQ(clattn__defines_set_int(&d, name, i), 0);
  }
  CHECK_EQ(d.count, CLATTN__MAX_DEFINES);
  CHECK_EQ(clattn__defines_set(&d, "ONE_MORE", "1"), -1);
  CHECK_EQ(clattn__defines_set(&d, "A", "1"), -1);
  CHECK_EQ(d.count, CLATTN__MAX_DEFINES);
  /* Replacing an existing name still works when the list is full. */
  CHECK_EQ(clattn__defines_set(&d, "D00", "replaced"), 0);
  CHECK_EQ(d.count, CLATTN__MAX_DEFINES);
  for (int i = 1; i < CLATTN__MAX_DEFINES; i++)
    CHECK(strcmp(d.items[i - 1].name, d.items[i].name) < 0);

  char out[8192];
  render(&d, out, sizeof out);
  CHECK(strncmp(out, BASE " -DD00=replaced -DD01=46 ", strlen(BASE " -DD00=replaced -DD01=46 ")) ==
        0);
  CHECK(strstr(out, "-DONE_MORE") == NULL);
  snprintf(name, sizeof name, " -DD%02d=0", CLATTN__MAX_DEFINES - 1);
  CHECK(strlen(out) >= strlen(name) && strcmp(out + strlen(out) - strlen(name), name) == 0);
}

int main(void) {
  test_empty();
  test_order_independence();
  test_replacement();
  test_set_int();
  test_invalid();
  test_render_capacity();
  test_full();
  return check_done("test_defines");
}
