/* The TensorProto reader of the ONNX conformance test: hand-made messages (valid and
 * malformed), every vector file, each of its truncations and many single-byte corruptions.
 * Malformed input must give an error, never a crash or a read out of bounds (run under
 * ASan to see the latter). */
#include "check.h"
#include "scratch.h"
#include "tensorproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CLATTN_ONNX_DATA_DIR
#define CLATTN_ONNX_DATA_DIR "tests/data/onnx_attention"
#endif

static int parse(const unsigned char *buf, size_t size, tp_tensor *t) {
  char err[256];
  int rc = tp_parse(buf, size, t, err, sizeof err);
  if (rc) CHECK(err[0] != '\0');
  return rc;
}

static void test_handmade(void) {
  tp_tensor t;
  /* dims [2, 3] (unpacked), float, name "x", 24 bytes of raw_data. */
  unsigned char ok[64] = {0x08, 2, 0x08, 3, 0x10, 1, 0x42, 1, 'x', 0x4a, 24};
  size_t n = 11 + 24;
  for (int i = 0; i < 24; i++) ok[11 + i] = (unsigned char)i;
  CHECK_EQ(parse(ok, n, &t), 0);
  CHECK_EQ(t.ndims, 2);
  CHECK_EQ(t.dims[0], 2);
  CHECK_EQ(t.dims[1], 3);
  CHECK_EQ(t.count, 6);
  CHECK_EQ(t.data_type, TP_FLOAT);
  CHECK(!strcmp(t.name, "x"));
  CHECK_EQ(t.data[23], 23);
  tp_free(&t);
  tp_free(&t); /* a freed (zeroed) tensor may be freed again */

  /* Packed dims [2, 3], int64 type, 48 bytes, an unknown varint field 20 and fixed32 21. */
  unsigned char packed[80] = {0x0a, 2, 2, 3, 0x10, 7, 0xa0, 0x01, 0x05, 0xad, 0x01, 1, 2, 3,
                              4,    0x4a, 48};
  size_t pn = 17 + 48;
  CHECK_EQ(parse(packed, pn, &t), 0);
  CHECK_EQ(t.ndims, 2);
  CHECK_EQ(t.count, 6);
  CHECK_EQ(t.elem_size, 8);
  tp_free(&t);

  /* Every prefix of a valid message except the whole is rejected or is a valid message of
   * its own (never a crash). The prefixes here cut raw_data, so all must fail. */
  for (size_t cut = 0; cut < n; cut++) CHECK_EQ(parse(ok, cut, &t), -1);

  /* Scalar: no dims, one element. */
  unsigned char scalar[] = {0x10, 1, 0x4a, 4, 0, 0, 0x80, 0x3f};
  CHECK_EQ(parse(scalar, sizeof scalar, &t), 0);
  CHECK_EQ(t.ndims, 0);
  CHECK_EQ(t.count, 1);
  tp_free(&t);

  /* Malformed messages. */
  static const struct {
    const char *what;
    unsigned char bytes[24];
    size_t size;
  } bad[] = {
      {"no data_type", {0x08, 1, 0x4a, 4, 0, 0, 0, 0}, 8},
      {"unknown data_type", {0x10, 99, 0x4a, 0}, 4},
      {"huge data_type", {0x10, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x4a, 0}, 8},
      {"raw_data too short", {0x08, 2, 0x10, 1, 0x4a, 4, 0, 0, 0, 0}, 10},
      {"raw_data too long", {0x08, 1, 0x10, 1, 0x4a, 5, 0, 0, 0, 0, 0}, 11},
      {"no raw_data", {0x08, 1, 0x10, 1}, 4},
      {"negative dim", {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 1,
                        0x4a, 0}, 15},
      {"overlong varint", {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x10,
                           1}, 13},
      {"unterminated varint", {0x10, 0x81}, 2},
      {"length past end", {0x10, 1, 0x4a, 0x10, 0}, 5},
      {"huge length", {0x10, 1, 0x4a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 12},
      {"packed dims past end", {0x0a, 5, 1, 1, 0x10, 1}, 6},
      {"bad varint in packed dims", {0x0a, 1, 0x81, 0x10, 1}, 5},
      {"field number 0", {0x00, 0}, 2},
      {"group wire type", {0xa3, 0x01}, 2},
      {"wrong wire type for raw_data", {0x48, 1}, 2},
      {"wrong wire type for data_type", {0x12, 0}, 2},
      {"float_data instead of raw_data", {0x08, 1, 0x10, 1, 0x25, 0, 0, 0, 0}, 9},
      {"truncated fixed64", {0xa9, 0x01, 1, 2, 3}, 5},
      {"truncated fixed32", {0xad, 0x01, 1, 2}, 4},
      {"name with NUL", {0x10, 1, 0x42, 2, 'a', 0, 0x08, 0, 0x4a, 0}, 10},
      {"nine dims", {0x0a, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x10, 1, 0x4a, 4, 0, 0, 0, 0}, 19},
      {"count overflow",
       {0x0a, 12, 0x80, 0x80, 0x80, 0x80, 0x10, 0x80, 0x80, 0x80, 0x80, 0x10, 0x10, 0x10,
        0x10, 1, 0x4a, 0},
       18},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    int rc = tp_parse(bad[i].bytes, bad[i].size, &t, err, sizeof err);
    if (rc != -1) check_fail(__FILE__, __LINE__, "malformed message accepted: %s", bad[i].what);
    CHECK(t.data == NULL && t.ndims == 0);
    check_pass();
  }
  /* A zero-size dim gives an empty tensor with no raw_data needed. */
  unsigned char empty[] = {0x08, 0, 0x08, 7, 0x10, 1};
  CHECK_EQ(parse(empty, sizeof empty, &t), 0);
  CHECK_EQ(t.count, 0);
  tp_free(&t);
  CHECK_EQ(parse(NULL, 0, &t), -1); /* no data_type */
  char err[64];
  CHECK_EQ(tp_parse(NULL, 5, &t, err, sizeof err), -1);
  CHECK_EQ(tp_load("/nonexistent/clattn/file.pb", &t, err, sizeof err), -1);
}

/* Every vector file parses; every truncation is rejected or parses consistently; random
 * byte corruptions never crash. */
static void test_files(const char *dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/cases.tsv", dir);
  size_t tsv_size = 0;
  char *tsv = scratch_read(path, &tsv_size);
  if (!tsv) check_fail(__FILE__, __LINE__, "cannot read %s", path);
  unsigned rng = 12345u;
  size_t files = 0;
  char *save = NULL;
  for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') continue;
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = '\0';
    char case_dir[1024];
    snprintf(case_dir, sizeof case_dir, "%s/%s", dir, line);
    char *paths[32];
    size_t count = scratch_list(case_dir, ".pb", paths, 32);
    CHECK(count >= 4 && count <= 32);
    for (size_t f = 0; f < count; f++) {
      size_t size = 0;
      unsigned char *buf = (unsigned char *)scratch_read(paths[f], &size);
      CHECK(buf != NULL);
      tp_tensor t;
      char err[512];
      if (tp_load(paths[f], &t, err, sizeof err))
        check_fail(__FILE__, __LINE__, "%s", err);
      CHECK(t.count * t.elem_size <= size);
      CHECK(t.name[0] != '\0');
      tp_free(&t);
      for (size_t cut = 0; cut < size; cut++) {
        if (tp_parse(buf, cut, &t, err, sizeof err) == 0) tp_free(&t);
      }
      unsigned char *copy = malloc(size);
      CHECK(copy != NULL);
      for (int trial = 0; trial < 64; trial++) {
        memcpy(copy, buf, size);
        for (int flips = 0; flips < 1 + trial % 3; flips++) {
          rng = rng * 1103515245u + 12345u;
          size_t at = (rng >> 8) % (size < 64 ? size : 64); /* the header fields */
          if (trial % 2) at = (rng >> 8) % size;
          rng = rng * 1103515245u + 12345u;
          copy[at] = (unsigned char)(rng >> 16);
        }
        if (tp_parse(copy, size, &t, err, sizeof err) == 0) {
          CHECK(t.count * t.elem_size <= size);
          tp_free(&t);
        }
      }
      check_pass();
      free(copy);
      free(buf);
      free(paths[f]);
      files++;
    }
  }
  free(tsv);
  printf("parsed %zu vector files, their truncations and corruptions\n", files);
  CHECK(files >= 76 * 4);
}

int main(int argc, char **argv) {
  test_handmade();
  test_files(argc > 1 ? argv[1] : CLATTN_ONNX_DATA_DIR);
  return check_done("test_tensorproto");
}
