/* The tuning file: text format round trip, rejected lines (each named, the rest still used),
 * atomic writes, the device key and directory rules, and what a context does with the file
 * at creation: applies it (observable through clattn__context_tuning and in GEMM results that
 * stay right), notes bad lines and bad files without failing, and skips it with
 * CLATTN_TUNING=0. */
#include <clblast_c.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tune_util.h"

/* A parameter set known to build and run on PoCL (and valid on any device with 64-item
 * work-groups): GEMMK=0, 8x8 work-items, 64x64 tiles, float8 vectors, no local memory. */
static const char *const good_xgemm =
    "clblast Xgemm 32 GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=8 MDIMC=8 MWG=64 NDIMB=8 NDIMC=8 "
    "NWG=64 SA=0 SB=0 STRM=0 STRN=0 VWM=8 VWN=8\n";

static size_t value_of(const clattn__clblast_entry *e, const char *name) {
  for (int i = 0; i < e->count; i++)
    if (strcmp(e->names[i], name) == 0) return e->values[i];
  check_fail(__FILE__, __LINE__, "%s/%d has no %s", e->kernel, e->precision, name);
}

static void test_parse_good(void) {
  char text[2048];
  snprintf(text, sizeof text,
           "# clattn tuning file\r\n"
           "\n"
           "   # indented comment\n"
           "%s"
           "clblast\tGemmRoutine 32  XGEMM_MIN_INDIRECT_SIZE=64   \r\n"
           "clblast XgemmDirect 32 WGD=16 VWND=1 VWMD=1 PADB=1 PADA=1 NDIMCD=8 NDIMBD=8 "
           "MDIMCD=8 MDIMAD=8 KWID=2\n"
           "clblast Copy 64 COPY_DIMX=8 COPY_DIMY=8 COPY_VW=4 COPY_WPT=1", /* no final newline */
           good_xgemm);
  clattn__tuning_file file;
  char messages[1024];
  CHECK_EQ(clattn__tuning_parse(text, &file, messages, sizeof messages), 0);
  CHECK(messages[0] == '\0');
  CHECK_EQ(file.count, 4);
  CHECK(strcmp(file.entries[0].kernel, "Xgemm") == 0);
  CHECK_EQ(file.entries[0].precision, 32);
  CHECK_EQ(file.entries[0].count, 16);
  CHECK_EQ(value_of(&file.entries[0], "MWG"), 64);
  CHECK_EQ(value_of(&file.entries[0], "VWN"), 8);
  CHECK(strcmp(file.entries[1].kernel, "GemmRoutine") == 0);
  CHECK_EQ(value_of(&file.entries[1], "XGEMM_MIN_INDIRECT_SIZE"), 64);
  CHECK_EQ(value_of(&file.entries[2], "WGD"), 16);
  CHECK(strcmp(file.entries[3].kernel, "Copy") == 0);
  CHECK_EQ(file.entries[3].precision, 64);
}

static void test_format_round_trip(void) {
  clattn__tuning_file file, again;
  char messages[512];
  CHECK_EQ(clattn__tuning_parse(good_xgemm, &file, messages, sizeof messages), 0);
  size_t threshold = 123;
  const char *name = "XGEMM_MIN_INDIRECT_SIZE";
  clattn__clblast_entry_set(&file.entries[file.count++], "GemmRoutine", 32, 1, &name, &threshold);
  char *text = clattn__tuning_format(&file, "device: test\nline two");
  CHECK(text != NULL);
  CHECK(strncmp(text, "# device: test\n# line two\nclblast Xgemm 32 GEMMK=0 ", 50) == 0);
  CHECK_CONTAINS(text, "\nclblast GemmRoutine 32 XGEMM_MIN_INDIRECT_SIZE=123\n");
  CHECK_EQ(clattn__tuning_parse(text, &again, messages, sizeof messages), 0);
  CHECK_EQ(again.count, file.count);
  for (int i = 0; i < file.count; i++) {
    CHECK(strcmp(again.entries[i].kernel, file.entries[i].kernel) == 0);
    CHECK_EQ(again.entries[i].precision, file.entries[i].precision);
    CHECK_EQ(again.entries[i].count, file.entries[i].count);
    for (int j = 0; j < file.entries[i].count; j++) {
      CHECK(strcmp(again.entries[i].names[j], file.entries[i].names[j]) == 0);
      CHECK_EQ(again.entries[i].values[j], file.entries[i].values[j]);
    }
  }
  free(text);
}

/* Every malformed line is rejected with its number and reason; the good line still counts. */
static void test_parse_bad(void) {
  static const struct {
    const char *line, *message;
  } cases[] = {
      {"softmax fwd D=64", "unknown record kind 'softmax'"},
      {"attention fwd f32 d64 none", "attention record version 'fwd'"},
      {"clblast Xgemm", "expected 'clblast <kernel> <precision>"},
      {"clblast Xgemm 33 GEMMK=0", "bad precision '33'"},
      {"clblast Xg-mm 32 A=1", "bad kernel name"},
      {"clblast Copy 32", "no parameters"},
      {"clblast Copy 32 COPY_DIMX", "is not NAME=VALUE"},
      {"clblast Copy 32 COPY_DIMX=eight", "'eight' is not an integer"},
      {"clblast Copy 32 COPY_DIMX=-8", "'-8' is not an integer"},
      {"clblast Copy 32 COPY_DIMX=99999999999", "is not an integer"},
      {"clblast Copy 32 copy_dimx=8", "bad parameter name"},
      {"clblast Copy 32 COPY_DIMX=8 COPY_DIMX=16", "COPY_DIMX given twice"},
      {"clblast GemmRoutine 32 XGEMM_MIN_INDIRECT_SIZE=0", "must be at least 1"},
      {"clblast GemmRoutine 32 XGEMM_MIN_INDIRECT=64", "missing parameter XGEMM_MIN_INDIRECT_SIZE"},
      {"clblast GemmRoutine 32 XGEMM_MIN_INDIRECT_SIZE=64 EXTRA=1", "unknown parameter EXTRA"},
      {"clblast Xgemm 32 GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=8 MDIMC=8 MWG=64 NDIMB=8 NDIMC=8 "
       "NWG=64 SA=0 SB=0 STRM=0 STRN=0 VWM=8",
       "missing parameter VWN"},
      {"clblast Xgemm 32 GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=8 MDIMC=8 MWG=48 NDIMB=8 NDIMC=8 "
       "NWG=64 SA=0 SB=0 STRM=0 STRN=0 VWM=8 VWN=8",
       "MWG (48) must be a multiple of MDIMC*VWM"},
      {"clblast Xgemm 32 GEMMK=0 KREG=1 KWG=32 KWI=3 MDIMA=8 MDIMC=8 MWG=64 NDIMB=8 NDIMC=8 "
       "NWG=64 SA=0 SB=0 STRM=0 STRN=0 VWM=8 VWN=8",
       "KWG (32) must be a multiple of KWI (3)"},
      {"clblast Xgemm 32 GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=8 MDIMC=8 MWG=64 NDIMB=8 NDIMC=8 "
       "NWG=64 SA=0 SB=0 STRM=0 STRN=0 VWM=3 VWN=8",
       "VWM and VWN must be"},
      {"clblast Xgemm 32 GEMMK=1 KREG=4 KWG=1 KWI=1 MDIMA=2 MDIMC=2 MWG=64 NDIMB=2 NDIMC=2 "
       "NWG=128 SA=0 SB=0 STRM=0 STRN=0 VWM=8 VWN=2",
       "MWG == NWG"},
      {good_xgemm, "Xgemm/32 given again"},
  };
  size_t n = sizeof cases / sizeof cases[0];
  size_t size = 8192;
  char *text = malloc(size);
  CHECK(text != NULL);
  snprintf(text, size, "%s", good_xgemm); /* line 1: good */
  for (size_t i = 0; i < n; i++) {
    size_t used = strlen(text);
    snprintf(text + used, size - used, "%s%s", cases[i].line,
             cases[i].line[strlen(cases[i].line) - 1] == '\n' ? "" : "\n");
  }
  /* An over-long line, then the end. */
  size_t used = strlen(text);
  memset(text + used, 'x', 3000);
  text[used + 3000] = '\n';
  text[used + 3001] = '\0';
  clattn__tuning_file file;
  char messages[8192];
  int rejected = clattn__tuning_parse(text, &file, messages, sizeof messages);
  printf("rejected lines:\n%s", messages);
  CHECK_EQ(rejected, (long long)n + 1);
  CHECK_EQ(file.count, 1);
  CHECK(strcmp(file.entries[0].kernel, "Xgemm") == 0);
  for (size_t i = 0; i < n; i++) {
    char expected[256];
    snprintf(expected, sizeof expected, "line %zu: ", i + 2);
    const char *at = strstr(messages, expected);
    if (!at) check_fail(__FILE__, __LINE__, "no message for line %zu", i + 2);
    const char *eol = strchr(at, '\n');
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)(eol - at), at);
    CHECK_CONTAINS(line, cases[i].message);
  }
  CHECK_CONTAINS(messages, "longer than");
  /* Messages are bounded by the buffer, whatever the input. */
  char tiny[16];
  CHECK_EQ(clattn__tuning_parse(text, &file, tiny, sizeof tiny), (long long)n + 1);
  CHECK(strlen(tiny) < sizeof tiny);
  free(text);
}

static void test_write_read(void) {
  const char *root = tu_scratch_dir("write_read");
  char *dir = tu_join(root, "nested/tuning");
  clattn__tuning_file file;
  CHECK_EQ(clattn__tuning_parse(good_xgemm, &file, NULL, 0), 0);
  char *text = clattn__tuning_format(&file, "written by test_write_read");
  CHECK(text != NULL);
  CHECK_EQ(clattn__tuning_write(dir, "abc.tune", text), 0);
  char *path = tu_join(dir, "abc.tune");
  size_t size = 0;
  char *back = scratch_read(path, &size);
  CHECK(back != NULL);
  CHECK(strcmp(back, text) == 0);
  clattn__tuning_file read;
  char messages[256];
  CHECK_EQ(clattn__tuning_read(path, &read, messages, sizeof messages), 0);
  CHECK_EQ(read.count, 1);
  /* The temporary file was renamed, not left behind. */
  CHECK_EQ(tu_list_all(dir, NULL, 0), 1);
  /* Rewriting replaces the file whole. */
  CHECK_EQ(clattn__tuning_write(dir, "abc.tune", "# empty\n"), 0);
  CHECK_EQ(clattn__tuning_read(path, &read, messages, sizeof messages), 0);
  CHECK_EQ(read.count, 0);
  /* Missing file; a file with a NUL byte. */
  char *missing = tu_join(dir, "missing.tune");
  errno = 0;
  CHECK_EQ(clattn__tuning_read(missing, &read, messages, sizeof messages), -1);
  CHECK_EQ(errno, ENOENT);
  char *nul = tu_join(dir, "nul.tune");
  CHECK_EQ(scratch_write(nul, "clblast\0junk\n", 13), 0);
  CHECK_EQ(clattn__tuning_read(nul, &read, messages, sizeof messages), 1);
  CHECK_CONTAINS(messages, "NUL byte");
  free(back);
  free(text);
  free(path);
  free(missing);
  free(nul);
  free(dir);
}

static void test_key_and_dir(void) {
  clattn_device_info info;
  memset(&info, 0, sizeof info);
  snprintf(info.name, sizeof info.name, "device A");
  snprintf(info.driver_version, sizeof info.driver_version, "1.0");
  snprintf(info.platform_version, sizeof info.platform_version, "OpenCL 3.0 test");
  char k1[17], k2[17], k3[17];
  clattn__tuning_device_key(&info, k1);
  clattn__tuning_device_key(&info, k2);
  CHECK(strcmp(k1, k2) == 0);
  CHECK_EQ(strlen(k1), 16);
  for (int i = 0; i < 16; i++) CHECK(strchr("0123456789abcdef", k1[i]) != NULL);
  snprintf(info.driver_version, sizeof info.driver_version, "1.1");
  clattn__tuning_device_key(&info, k3);
  CHECK(strcmp(k1, k3) != 0);

  char *saved = getenv("CLATTN_CACHE_DIR") ? strdup(getenv("CLATTN_CACHE_DIR")) : NULL;
  setenv("CLATTN_TUNING_DIR", "/somewhere/tuning-files", 1);
  char *dir = clattn__tuning_dir("/ignored");
  CHECK(dir && strcmp(dir, "/somewhere/tuning-files") == 0);
  free(dir);
  unsetenv("CLATTN_TUNING_DIR");
  dir = clattn__tuning_dir("/my/cache");
  CHECK(dir && strcmp(dir, "/my/cache/tuning") == 0);
  free(dir);
  setenv("CLATTN_CACHE_DIR", "/env/cache", 1);
  dir = clattn__tuning_dir(NULL);
  CHECK(dir && strcmp(dir, "/env/cache/tuning") == 0);
  free(dir);
  unsetenv("CLATTN_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  dir = clattn__tuning_dir("");
  CHECK(dir && strcmp(dir, "/xdg/clattn/tuning") == 0);
  free(dir);
  if (saved) setenv("CLATTN_CACHE_DIR", saved, 1);
  free(saved);
}

/* Writes `text` as the tuning file of the default device in `dir` (CLATTN_TUNING_DIR). */
static char *write_device_file(const char *dir, const char *text) {
  clattn_context *probe = NULL;
  setenv("CLATTN_TUNING", "0", 1);
  CHECK_OK(NULL, clattn_context_create(NULL, &probe));
  unsetenv("CLATTN_TUNING");
  clattn_device_info info;
  CHECK_OK(probe, clattn_context_device_info(probe, &info));
  clattn__tuning_status st = tt_status(probe);
  clattn_context_destroy(probe);
  char key[17], name[32];
  clattn__tuning_device_key(&info, key);
  snprintf(name, sizeof name, "%s.tune", key);
  char *path = tu_join(dir, name);
  CHECK(strcmp(st.path, path) == 0); /* the context looks where the test writes */
  if (text) CHECK_EQ(scratch_write(path, text, strlen(text)), 0);
  return path;
}

static void test_context_applies(void) {
  const char *dir = tu_scratch_dir("apply");
  setenv("CLATTN_TUNING_DIR", dir, 1);
  /* Lines 1-2 good; line 3 malformed; line 4 too large a work-group for any device. */
  char text[2048];
  snprintf(text, sizeof text,
           "%s"
           "clblast GemmRoutine 32 XGEMM_MIN_INDIRECT_SIZE=64\n"
           "clblast Xgemm 64 GEMMK=0\n"
           "clblast Xgemm 64 GEMMK=0 KREG=1 KWG=512 KWI=2 MDIMA=128 MDIMC=128 MWG=1024 "
           "NDIMB=128 NDIMC=128 NWG=1024 SA=0 SB=0 STRM=0 STRN=0 VWM=8 VWN=8\n",
           good_xgemm);
  char *path = write_device_file(dir, text);
  clattn_context *ctx = tt_context();
  clattn__tuning_status st = tt_status(ctx);
  printf("applied: %s\nnote: %s", st.summary, st.note);
  CHECK_EQ(st.state, CLATTN__TUNING_APPLIED);
  CHECK_EQ(st.applied, 2);
  CHECK_EQ(st.rejected, 2);
  CHECK(strcmp(st.path, path) == 0);
  CHECK_CONTAINS(st.summary, "Xgemm/32 GEMMK=0 KREG=1 KWG=32");
  CHECK_CONTAINS(st.summary, "GemmRoutine/32 XGEMM_MIN_INDIRECT_SIZE=64");
  CHECK_CONTAINS(st.note, "line 3: Xgemm/64: missing parameter");
  CHECK_CONTAINS(st.note, "exceeds the device's limits");
  /* CLBlast got them: clattn's registry of overrides says so, and GEMMs on both sides of the
   * direct/indirect threshold (64^3) are right. */
  clattn__clblast_entry current;
  CHECK(clattn__clblast_current(clattn_context_cl_device(ctx), "Xgemm", 32, &current));
  CHECK_EQ(value_of(&current, "MWG"), 64);
  CHECK(clattn__clblast_current(clattn_context_cl_device(ctx), "GemmRoutine", 32, &current));
  CHECK_EQ(value_of(&current, "XGEMM_MIN_INDIRECT_SIZE"), 64);
  CHECK(!clattn__clblast_current(clattn_context_cl_device(ctx), "Xgemm", 64, NULL));
  tt_check_gemm(ctx, 515, 259, 131); /* indirect: padded on every side */
  tt_check_gemm(ctx, 3, 45, 33);     /* direct */
  tt_check_gemm(ctx, 128, 64, 64);   /* indirect, no padding */
  clattn_context_destroy(ctx);

  /* CLATTN_TUNING=0: the file is not read. */
  setenv("CLATTN_TUNING", "0", 1);
  ctx = tt_context();
  st = tt_status(ctx);
  CHECK_EQ(st.state, CLATTN__TUNING_DISABLED);
  CHECK_EQ(st.applied, 0);
  CHECK(strcmp(st.path, path) == 0);
  clattn_context_destroy(ctx);
  unsetenv("CLATTN_TUNING");
  free(path);
}

/* A broken file never stops a context: garbage, an unreadable path, nothing there. */
static void test_bad_files(void) {
  const char *dir = tu_scratch_dir("bad");
  setenv("CLATTN_TUNING_DIR", dir, 1);
  char *path = write_device_file(dir, "\x7f" "ELF binary junk\nnot a tuning file\n");
  clattn_context *ctx = tt_context();
  clattn__tuning_status st = tt_status(ctx);
  CHECK_EQ(st.state, CLATTN__TUNING_FAILED);
  CHECK_EQ(st.rejected, 2);
  CHECK_CONTAINS(st.note, "line 1: unknown record kind");
  clattn_context_destroy(ctx);

  scratch_remove(path);
  CHECK_EQ(mkdir(path, 0755), 0); /* a directory where the file should be */
  ctx = tt_context();
  st = tt_status(ctx);
  CHECK_EQ(st.state, CLATTN__TUNING_FAILED);
  CHECK_CONTAINS(st.note, "cannot read");
  clattn_context_destroy(ctx);

  scratch_remove(path);
  ctx = tt_context();
  st = tt_status(ctx);
  CHECK_EQ(st.state, CLATTN__TUNING_NONE);
  CHECK_EQ(st.applied, 0);
  tt_check_gemm(ctx, 67, 45, 33); /* still right with whatever is in force */
  clattn_context_destroy(ctx);
  free(path);
}

int main(void) {
  test_parse_good();
  test_format_round_trip();
  test_parse_bad();
  test_write_read();
  test_key_and_dir();
  test_context_applies();
  test_bad_files();
  return check_done("test_tuning_file");
}
