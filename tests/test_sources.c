/* Kernel sources: the embedded copies match cl/ on disk, a kernel directory replaces them
 * (and changes the cache keys exactly when the text changes), and bad names are refused.
 * Nothing is compiled here. */
#include <clattn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sources.h"
#include "testutil.h"

static const clattn__embedded_source *find_embedded(const char *name) {
  for (size_t i = 0; i < clattn__embedded_source_count; i++)
    if (strcmp(clattn__embedded_sources[i].name, name) == 0) return &clattn__embedded_sources[i];
  return NULL;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Every cl/ *.cl file and *.clh fragment is embedded byte for byte, and nothing else is. */
static void test_embedded_matches_disk(void) {
  CHECK(clattn__embedded_source_count >= 1);
  CHECK(find_embedded("ceiling.cl") != NULL);
  CHECK(find_embedded("storage.clh") != NULL);
  char *cl_dir = tu_join(tu_source_dir(), "cl");
  char *paths[256];
  size_t on_disk = scratch_list(cl_dir, ".cl", paths, 128);
  CHECK(on_disk >= 1 && on_disk <= 128);
  size_t fragments = scratch_list(cl_dir, ".clh", paths + on_disk, 128);
  CHECK(fragments >= 1 && fragments <= 128);
  on_disk += fragments;
  CHECK_EQ(on_disk, clattn__embedded_source_count);
  for (size_t i = 0; i < on_disk; i++) {
    const char *base = strrchr(paths[i], '/') + 1;
    const clattn__embedded_source *source = find_embedded(base);
    if (!source) check_fail(__FILE__, __LINE__, "%s is not embedded", paths[i]);
    check_pass();
    size_t size = 0;
    char *text = scratch_read(paths[i], &size);
    CHECK(text != NULL);
    CHECK_EQ(source->size, size);
    CHECK(memcmp(source->data, text, size) == 0);
    CHECK_EQ(source->data[size], '\0');
    CHECK_EQ(strlen(source->data), size); /* no NUL inside a kernel source */
    free(text);
    free(paths[i]);
  }
  for (size_t i = 0; i < clattn__embedded_source_count; i++) {
    const clattn__embedded_source *source = &clattn__embedded_sources[i];
    CHECK(strchr(source->name, '/') == NULL);
    CHECK(ends_with(source->name, ".cl") || ends_with(source->name, ".clh"));
    for (size_t j = 0; j < i; j++) CHECK(strcmp(clattn__embedded_sources[j].name, source->name));
  }
  /* The ceiling kernels the library launches are in the file. */
  const clattn__embedded_source *ceiling = find_embedded("ceiling.cl");
  CHECK_CONTAINS(ceiling->data, "fma_peak");
  CHECK_CONTAINS(ceiling->data, "triad");
  free(cl_dir);
}

/* Fragments: `#include "x.clh"` lines are replaced by the fragment (nested too) and a #line
 * that restores the includer's numbering; other text stays byte for byte; a missing fragment
 * is KERNEL_NOT_FOUND naming it; a cycle stops at the depth limit. */
static void test_includes(void) {
  const char *dir = tu_scratch_dir("includes");
  struct { const char *name, *text; } files[] = {
      {"k.cl", "// k\n#include \"a.clh\"\nkernel void k(global int *x) { x[0] = A + B; }\n"},
      {"a.clh", "#define A 1\n#include \"b.clh\"  \n"},
      {"b.clh", "#define B 2\n"},
      {"missing.cl", "#include \"nowhere.clh\"\n"},
      {"loop.cl", "#include \"loop.clh\"\n"},
      {"loop.clh", "#include \"loop.clh\"\n"},
      {"quoted.cl", "/* #include \"b.clh\" in a comment stays */\n #include \"b.clh\"\n"}};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char *path = tu_join(dir, files[i].name);
    CHECK_EQ(scratch_write(path, files[i].text, strlen(files[i].text)), 0);
    free(path);
  }
  char *text = NULL;
  size_t size = 0;
  CHECK_OK(NULL, clattn__source_load_expanded(NULL, dir, "k.cl", &text, &size));
  const char *want = "// k\n#define A 1\n#define B 2\n\n#line 3\n\n#line 3\n"
                     "kernel void k(global int *x) { x[0] = A + B; }\n";
  CHECK(strcmp(text, want) == 0);
  CHECK_EQ(size, strlen(want));
  free(text);
  CHECK_STATUS(NULL, clattn__source_load_expanded(NULL, dir, "missing.cl", &text, &size),
               CLATTN_KERNEL_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(NULL), "nowhere.clh");
  CHECK_STATUS(NULL, clattn__source_load_expanded(NULL, dir, "loop.cl", &text, &size),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "nested deeper");
  /* Only a line that is exactly the directive (from its first column) includes. */
  CHECK_OK(NULL, clattn__source_load_expanded(NULL, dir, "quoted.cl", &text, &size));
  CHECK(strcmp(text, files[6].text) == 0);
  free(text);
  /* The embedded attention kernel expands to text holding its fragments. */
  CHECK_OK(NULL, clattn__source_load_expanded(NULL, NULL, "attention_fwd.cl", &text, &size));
  CHECK_CONTAINS(text, "inline ushort float_to_bf16");
  CHECK_CONTAINS(text, "inline int key_allowed");
  CHECK(strstr(text, "\n#include \"") == NULL); /* no directive left (comments may name one) */
  free(text);
}

static void test_load(void) {
  char *text = NULL;
  size_t size = 0;
  CHECK_OK(NULL, clattn__source_load(NULL, NULL, "ceiling.cl", &text, &size));
  const clattn__embedded_source *ceiling = find_embedded("ceiling.cl");
  CHECK_EQ(size, ceiling->size);
  CHECK(memcmp(text, ceiling->data, size + 1) == 0);
  CHECK(text != ceiling->data); /* a copy the caller frees */
  free(text);

  /* From a kernel directory: whatever is in the file, byte for byte. */
  const char *dir = tu_scratch_dir("load");
  char *path = tu_join(dir, "ceiling.cl");
  const char custom[] = "/* a custom ceiling.cl */\nkernel void k(global int *x) { x[0] = 1; }\n";
  CHECK_EQ(scratch_write(path, custom, sizeof custom - 1), 0);
  text = NULL;
  CHECK_OK(NULL, clattn__source_load(NULL, dir, "ceiling.cl", &text, &size));
  CHECK_EQ(size, sizeof custom - 1);
  CHECK(strcmp(text, custom) == 0);
  free(text);
  free(path);
  /* An empty file is a valid (empty) source. */
  path = tu_join(dir, "empty.cl");
  CHECK_EQ(scratch_write(path, "", 0), 0);
  text = NULL;
  CHECK_OK(NULL, clattn__source_load(NULL, dir, "empty.cl", &text, &size));
  CHECK_EQ(size, 0);
  CHECK(text != NULL && text[0] == '\0');
  free(text);
  free(path);

  /* Unknown names, embedded or in the directory. */
  text = (char *)"untouched";
  CHECK_STATUS(NULL, clattn__source_load(NULL, NULL, "no_such_kernel.cl", &text, &size),
               CLATTN_KERNEL_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(NULL), "no_such_kernel.cl");
  CHECK_STATUS(NULL, clattn__source_load(NULL, dir, "no_such_kernel.cl", &text, &size),
               CLATTN_KERNEL_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(NULL), "no_such_kernel.cl");
  char *missing_dir = tu_join(dir, "does-not-exist");
  CHECK_STATUS(NULL, clattn__source_load(NULL, missing_dir, "ceiling.cl", &text, &size),
               CLATTN_KERNEL_NOT_FOUND);
  free(missing_dir);

  /* Names with a path in them never leave the directory. */
  const char *bad[] = {"../x.cl", "../cl/ceiling.cl", "sub/ceiling.cl", "/etc/passwd",
                       "..\\x.cl", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_STATUS(NULL, clattn__source_load(NULL, NULL, bad[i], &text, &size),
                 CLATTN_INVALID_ARGUMENT);
    CHECK_STATUS(NULL, clattn__source_load(NULL, dir, bad[i], &text, &size),
                 CLATTN_INVALID_ARGUMENT);
  }
  CHECK_STATUS(NULL, clattn__source_load(NULL, NULL, NULL, &text, &size), CLATTN_INVALID_ARGUMENT);
  CHECK(strcmp(text, "untouched") == 0);

  /* With a context, the failure is recorded on it. */
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(NULL, &ctx));
  CHECK_STATUS(ctx, clattn__source_load(ctx, NULL, "../x.cl", &text, &size),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "../x.cl");
  CHECK_STATUS(ctx, clattn__source_load(ctx, NULL, "nope.cl", &text, &size),
               CLATTN_KERNEL_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(ctx), "nope.cl");
  clattn_context_destroy(ctx);
}

static clattn_context *context_with_kernel_dir(const char *kernel_dir) {
  clattn_context_options options;
  clattn_context_options_init(&options);
  options.kernel_dir = kernel_dir;
  options.disk_cache = 0;
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(&options, &ctx));
  return ctx;
}

/* The variant list and its keys through a context: a kernel directory holding the same
 * text gives the same keys, a changed text changes the key of its file only, and a missing
 * file is reported. */
static void test_kernel_dir_variants(void) {
  clattn_context *embedded = context_with_kernel_dir(NULL);
  size_t n = 0;
  clattn_kernel_variant *base = tu_variants(embedded, &n);
  int has_ceiling = 0;
  for (size_t i = 0; i < n; i++) {
    CHECK(strlen(base[i].key) == 64);
    char name[80];
    snprintf(name, sizeof name, "%s.bin", base[i].key);
    CHECK(tu_is_cache_name(name));
    CHECK(strncmp(base[i].options, "-cl-std=CL1.2", 13) == 0);
    CHECK(find_embedded(base[i].file) != NULL);
    if (strcmp(base[i].file, "ceiling.cl") == 0) has_ceiling = 1;
    for (size_t j = 0; j < i; j++) CHECK(strcmp(base[i].key, base[j].key) != 0);
  }
  CHECK(has_ceiling);
  /* The list is stable. */
  size_t n2 = 0;
  clattn_kernel_variant *again = tu_variants(embedded, &n2);
  CHECK_EQ(n2, n);
  for (size_t i = 0; i < n; i++) CHECK(strcmp(again[i].key, base[i].key) == 0);
  free(again);
  clattn_kernel_variant one;
  size_t count = 0;
  CHECK_STATUS(embedded, clattn_kernel_variants(embedded, &one, 0, &count),
               CLATTN_BUFFER_TOO_SMALL);
  CHECK_EQ(count, n);
  if (n > 1) {
    CHECK_STATUS(embedded, clattn_kernel_variants(embedded, &one, 1, &count),
                 CLATTN_BUFFER_TOO_SMALL);
    CHECK(strcmp(one.key, base[0].key) == 0);
  }
  clattn_context_destroy(embedded);

  const char *same_dir = tu_scratch_dir("same");
  CHECK(tu_copy_kernels(same_dir) >= 1);
  clattn_context *same = context_with_kernel_dir(same_dir);
  size_t n_same = 0;
  clattn_kernel_variant *same_variants = tu_variants(same, &n_same);
  CHECK_EQ(n_same, n);
  for (size_t i = 0; i < n; i++) {
    CHECK(strcmp(same_variants[i].file, base[i].file) == 0);
    CHECK(strcmp(same_variants[i].options, base[i].options) == 0);
    CHECK(strcmp(same_variants[i].key, base[i].key) == 0);
  }
  free(same_variants);
  clattn_context_destroy(same);

  /* A comment appended to ceiling.cl changes the key of every ceiling.cl variant only. */
  const char *changed_dir = tu_scratch_dir("changed");
  tu_copy_kernels(changed_dir);
  char *path = tu_join(changed_dir, "ceiling.cl");
  tu_append(path, "\n/* changed */\n");
  free(path);
  clattn_context *changed = context_with_kernel_dir(changed_dir);
  size_t n_changed = 0;
  clattn_kernel_variant *changed_variants = tu_variants(changed, &n_changed);
  CHECK_EQ(n_changed, n);
  for (size_t i = 0; i < n; i++) {
    CHECK(strcmp(changed_variants[i].options, base[i].options) == 0);
    if (strcmp(base[i].file, "ceiling.cl") == 0)
      CHECK(strcmp(changed_variants[i].key, base[i].key) != 0);
    else
      CHECK(strcmp(changed_variants[i].key, base[i].key) == 0);
  }
  free(changed_variants);
  clattn_context_destroy(changed);

  /* The same through CLATTN_KERNEL_DIR. */
  setenv("CLATTN_KERNEL_DIR", changed_dir, 1);
  clattn_context *from_env = context_with_kernel_dir(NULL);
  size_t n_env = 0;
  clattn_kernel_variant *env_variants = tu_variants(from_env, &n_env);
  for (size_t i = 0; i < n; i++)
    if (strcmp(base[i].file, "ceiling.cl") == 0)
      CHECK(strcmp(env_variants[i].key, base[i].key) != 0);
  free(env_variants);
  clattn_context_destroy(from_env);
  /* An explicit kernel_dir wins over the environment. */
  clattn_context *explicit_dir = context_with_kernel_dir(same_dir);
  size_t n_explicit = 0;
  clattn_kernel_variant *explicit_variants = tu_variants(explicit_dir, &n_explicit);
  for (size_t i = 0; i < n; i++) CHECK(strcmp(explicit_variants[i].key, base[i].key) == 0);
  free(explicit_variants);
  clattn_context_destroy(explicit_dir);
  unsetenv("CLATTN_KERNEL_DIR");

  /* A kernel directory without ceiling.cl. */
  const char *empty_dir = tu_scratch_dir("empty");
  clattn_context *empty = context_with_kernel_dir(empty_dir);
  count = 4242;
  clattn_kernel_variant *room = calloc(n, sizeof *room);
  CHECK(room != NULL);
  CHECK_STATUS(empty, clattn_kernel_variants(empty, room, n, &count), CLATTN_KERNEL_NOT_FOUND);
  free(room);
  CHECK_CONTAINS(clattn_last_error(empty), "ceiling.cl");
  CHECK_EQ(count, 4242);
  CHECK_STATUS(empty, clattn_prepare_kernels(empty, NULL, 0), CLATTN_KERNEL_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(empty), "ceiling.cl");
  clattn_context_destroy(empty);
  free(base);
}

int main(void) {
  unsetenv("CLATTN_KERNEL_DIR");
  test_embedded_matches_disk();
  test_load();
  test_includes();
  test_kernel_dir_variants();
  return check_done("test_sources");
}
