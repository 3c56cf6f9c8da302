/* The per-device tuning file and CLBlast's parameter overrides.
 *
 * clattn_tune_gemm (gemm_tune.c) finds CLBlast parameters that beat CLBlast's own on one
 * device and stores them in that device's tuning file; every context created on the device
 * reads the file and hands each entry to CLBlastOverrideParameters. The file is text:
 *
 *   # comment lines: device, date, what was measured
 *   clblast Xgemm 32 GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=8 MDIMC=8 MWG=128 ...
 *   clblast GemmRoutine 32 XGEMM_MIN_INDIRECT_SIZE=64
 *   attention v1 f32 d64 causal rows=4 tile_k=16 vec=8 wg=32 v_direct=0  # 112.3 GFLOP/s
 *
 * one record per line: "clblast", the CLBlast kernel name, the precision in bits (16, 32, 64,
 * 3232, 6464 as CLBlastPrecision) and every parameter of that kernel as NAME=VALUE. A line
 * that does not parse, names an unknown record kind, repeats a kernel/precision, or gives a
 * parameter set CLBlast's kernel cannot run (the constraints of CLBlast's own tuner, see
 * clattn__xgemm_check) is rejected with a message naming its line and ignored; the other lines
 * still apply. "attention" records are the fused kernel's tuned configurations
 * (clattn_tune_attention; the format is in attention_config.h): at most one per key, used by
 * clattn__attention_pick_config before the built-in table. '#' starts a comment anywhere on a
 * line; an attention record keeps its comment (the measured figures) as its note.
 *
 * CLBlast keeps overrides per process and per cl_device_id, not per cl_context: applying an
 * entry affects every context on that device in the process, and its C API cannot read back or
 * restore CLBlast's own parameters. clattn therefore remembers what it applied per device
 * (a process-wide registry) and knows CLBlast's built-in defaults for the devices where they
 * can be derived (clattn__clblast_defaults), which is what a re-tune needs to measure
 * "untuned" again.
 */
#ifndef CLATTN_TUNING_H
#define CLATTN_TUNING_H

#include <stddef.h>

#include "attention_config.h"
#include "clattn.h"

#define CLATTN__TUNING_MAX_PARAMS 24
#define CLATTN__TUNING_MAX_ENTRIES 32
#define CLATTN__TUNING_NAME_CAPACITY 32
#define CLATTN__TUNING_MAX_ATTENTION 64

/* The parameters of one CLBlast kernel at one precision. */
typedef struct clattn__clblast_entry {
  char kernel[CLATTN__TUNING_NAME_CAPACITY]; /* "Xgemm", "GemmRoutine", ... */
  int precision;                             /* 16, 32, 64, 3232 or 6464 */
  int count;                                 /* parameters below */
  char names[CLATTN__TUNING_MAX_PARAMS][CLATTN__TUNING_NAME_CAPACITY];
  size_t values[CLATTN__TUNING_MAX_PARAMS];
} clattn__clblast_entry;

/* The records of a tuning file that were accepted. */
typedef struct clattn__tuning_file {
  int count;
  clattn__clblast_entry entries[CLATTN__TUNING_MAX_ENTRIES];
  int attention_count;
  clattn__attention_entry attention[CLATTN__TUNING_MAX_ATTENTION];
} clattn__tuning_file;

/* What a context did with its device's tuning file (clattn__context_tuning). */
typedef enum clattn__tuning_state {
  CLATTN__TUNING_NONE = 0,     /* no file at `path` (or no path could be formed) */
  CLATTN__TUNING_DISABLED = 1, /* CLATTN_TUNING=0 */
  CLATTN__TUNING_APPLIED = 2,  /* at least one entry applied (some may have been rejected) */
  CLATTN__TUNING_FAILED = 3    /* a file is there but nothing of it could be applied */
} clattn__tuning_state;

typedef struct clattn__tuning_status {
  clattn__tuning_state state;
  int applied;        /* entries in force: handed to CLBlast, or attention entries kept */
  int rejected;       /* lines rejected by the parser, checks or CLBlast */
  char path[1024];    /* the device's tuning file ("" when no directory could be found) */
  char summary[512];  /* what is applied: "Xgemm/32 GEMMK=0 ...; GemmRoutine/32 ..." */
  char note[1024];    /* why nothing was applied, or the first rejection messages */
  int attention_count; /* the attention entries in force (clattn__attention_pick_config) */
  clattn__attention_entry attention[CLATTN__TUNING_MAX_ATTENTION];
} clattn__tuning_status;

/* ---- Files ---------------------------------------------------------------------------- */

/* The device key: the first 16 hex digits of SHA-256 over the device name, driver version,
 * platform version and the CLBlast version clattn was built with. */
void clattn__tuning_device_key(const clattn_device_info *info, char key[17]);

/* The directory of tuning files: $CLATTN_TUNING_DIR, else "<cache>/tuning" where <cache> is
 * `cache_dir` (the context option) when not NULL or empty, else $CLATTN_CACHE_DIR, else
 * $XDG_CACHE_HOME/clattn, else $HOME/.cache/clattn. malloc'd; NULL when none can be formed. */
char *clattn__tuning_dir(const char *cache_dir);

/* Parses a tuning file's text. Accepted records go to *out (emptied first); each rejected line
 * adds "line N: why\n" to `messages` (truncated to `size`, may be NULL). Returns the number
 * of rejected lines. Device-dependent checks are not made here (see clattn__tuning_apply). */
int clattn__tuning_parse(const char *text, clattn__tuning_file *out, char *messages,
                         size_t size);

/* Reads and parses a file. Returns -1 (errno set; ENOENT when missing) when it cannot be
 * read, else the number of rejected lines. */
int clattn__tuning_read(const char *path, clattn__tuning_file *out, char *messages,
                        size_t size);

/* Formats a file: the comment text (each line gets "# "; may be NULL) and one line per entry.
 * malloc'd, NULL when out of memory. */
char *clattn__tuning_format(const clattn__tuning_file *file, const char *comment);

/* Adds the attention records of the file at `path` (if it can be read) to *file, which the
 * caller is about to write: so that re-tuning CLBlast keeps them. */
void clattn__tuning_keep_attention(const char *path, clattn__tuning_file *file);

/* Sets (adds or replaces, by key) an attention entry; -1 when the file is full. */
int clattn__tuning_set_attention(clattn__tuning_file *file, const clattn__attention_entry *e);

/* Writes text to "<dir>/<name>" (dir created if missing) through a temporary file and a
 * rename. Returns 0 or -1. */
int clattn__tuning_write(const char *dir, const char *name, const char *text);

/* One entry as "NAME=VALUE NAME=VALUE ..." into buf. */
void clattn__clblast_entry_params(const clattn__clblast_entry *entry, char *buf, size_t size);

/* ---- CLBlast parameters --------------------------------------------------------------- */

/* The 16 Xgemm parameters in CLBlast's (alphabetical) order. */
#define CLATTN__XGEMM_PARAMS 16
extern const char *const clattn__xgemm_names[CLATTN__XGEMM_PARAMS];
enum {
  CLATTN__GEMMK, CLATTN__KREG, CLATTN__KWG, CLATTN__KWI, CLATTN__MDIMA, CLATTN__MDIMC,
  CLATTN__MWG, CLATTN__NDIMB, CLATTN__NDIMC, CLATTN__NWG, CLATTN__SA, CLATTN__SB,
  CLATTN__STRM, CLATTN__STRN, CLATTN__VWM, CLATTN__VWN
};

/* Checks an Xgemm parameter set against the constraints of CLBlast's kernel (those its tuner
 * enforces, plus GEMMK=1 needing MWG == NWG before CLBlast 1.6.3, which computes a wrong
 * global size otherwise and reads out of bounds). With `info`, also the device's limits:
 * work-group size and local memory. Returns 1 when valid, else 0 with the reason in `why`. */
int clattn__xgemm_check(const size_t v[CLATTN__XGEMM_PARAMS], const clattn_device_info *info,
                        char *why, size_t size);

/* The value of a parameter of the entry, or (size_t)-1 when absent. */
size_t clattn__clblast_entry_value(const clattn__clblast_entry *e, const char *name);

/* Checks a record of a kernel clattn knows (Xgemm, XgemmDirect, GemmRoutine): exactly its
 * parameters, and Xgemm's constraints. Returns 0 (also for kernels clattn does not know:
 * CLBlast checks those), or -1 with the reason in `why`. */
int clattn__clblast_entry_check(const clattn__clblast_entry *e, char *why, size_t size);

/* Builds an entry for kernel/precision from parallel name and value arrays. */
void clattn__clblast_entry_set(clattn__clblast_entry *entry, const char *kernel, int precision,
                               int count, const char *const *names, const size_t *values);

/* Hands one entry to CLBlastOverrideParameters for `device`, after the device-dependent checks
 * (Xgemm) when info is not NULL, and records it in the process-wide registry. Returns 0, or -1
 * with the reason in `why`. */
int clattn__clblast_apply(cl_device_id device, const clattn_device_info *info,
                          const clattn__clblast_entry *entry, char *why, size_t size);

/* 1 and *entry when clattn has overridden this kernel/precision on `device` in this process
 * (the values currently in force), else 0. */
int clattn__clblast_current(cl_device_id device, const char *kernel, int precision,
                            clattn__clblast_entry *entry);

/* CLBlast's built-in single-precision parameters for this device, where clattn can derive
 * them: the kernels "Xgemm", "XgemmDirect" and "GemmRoutine" of the CLBlast version clattn was
 * built with (1.5.x), for CPU devices whose vendor CLBlast's database has no CPU entry for
 * (PoCL on AMD CPUs, ...) and for PoCL on Intel CPUs. 1 and *entry when known, else 0. */
int clattn__clblast_defaults(const clattn_device_info *info, const char *kernel,
                             clattn__clblast_entry *entry);

/* ---- Contexts ------------------------------------------------------------------------- */

/* Called once by context creation: finds the device's tuning file and applies it unless
 * CLATTN_TUNING=0. Never fails: whatever goes wrong is noted in the context's status. */
void clattn__tuning_context_init(clattn_context *ctx, const clattn_context_options *options);

/* Replaces the context's status (under its lock), e.g. after clattn_tune_gemm applied a new
 * winner. */
void clattn__tuning_context_set(clattn_context *ctx, const clattn__tuning_status *status);

/* What the context's tuning file did (for tests and tools). */
clattn_status clattn__context_tuning(const clattn_context *ctx, clattn__tuning_status *status);

#endif
