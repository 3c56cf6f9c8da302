/* CLBlast's parameters: the records clattn knows, the Xgemm constraints, handing entries to
 * CLBlast and remembering them, and CLBlast's own defaults (see tuning.h). */
#include "tuning.h"

#include <clblast_c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "device.h"

const char *const clattn__xgemm_names[CLATTN__XGEMM_PARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG",  "SA",  "SB",  "STRM",  "STRN",  "VWM", "VWN"};

static const char *const xgemm_direct_names[] = {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD",
                                                 "PADA", "PADB",   "VWMD",   "VWND",   "WGD"};
static const char *const gemm_routine_names[] = {"XGEMM_MIN_INDIRECT_SIZE"};

/* The kernels whose complete parameter lists clattn knows; a record for one of them must give
 * exactly these. Records for other CLBlast kernels are passed on and CLBlast checks them. */
typedef struct known_kernel {
  const char *kernel;
  int count;
  const char *const *names;
} known_kernel;

static const known_kernel known_kernels[] = {
    {"Xgemm", CLATTN__XGEMM_PARAMS, clattn__xgemm_names},
    {"XgemmDirect", 10, xgemm_direct_names},
    {"GemmRoutine", 1, gemm_routine_names},
};

static const known_kernel *find_known(const char *kernel) {
  for (size_t i = 0; i < sizeof known_kernels / sizeof known_kernels[0]; i++)
    if (strcmp(known_kernels[i].kernel, kernel) == 0) return &known_kernels[i];
  return NULL;
}

/* The value of a parameter of the entry, or (size_t)-1 when absent. */
size_t clattn__clblast_entry_value(const clattn__clblast_entry *e, const char *name) {
  for (int i = 0; i < e->count; i++)
    if (strcmp(e->names[i], name) == 0) return e->values[i];
  return (size_t)-1;
}

/* Checks a record of a kernel clattn knows: exactly its parameters, and Xgemm's constraints. */
int clattn__clblast_entry_check(const clattn__clblast_entry *e, char *why, size_t size) {
  const known_kernel *k = find_known(e->kernel);
  if (!k) return 0;
  for (int i = 0; i < k->count; i++) {
    if (clattn__clblast_entry_value(e, k->names[i]) == (size_t)-1) {
      snprintf(why, size, "%s/%d: missing parameter %s", e->kernel, e->precision, k->names[i]);
      return -1;
    }
  }
  if (e->count != k->count) {
    for (int i = 0; i < e->count; i++) {
      int found = 0;
      for (int j = 0; j < k->count; j++) found |= strcmp(e->names[i], k->names[j]) == 0;
      if (!found) {
        snprintf(why, size, "%s/%d: unknown parameter %s", e->kernel, e->precision, e->names[i]);
        return -1;
      }
    }
  }
  if (strcmp(e->kernel, "Xgemm") == 0) {
    size_t v[CLATTN__XGEMM_PARAMS];
    for (int i = 0; i < CLATTN__XGEMM_PARAMS; i++) v[i] = clattn__clblast_entry_value(e, clattn__xgemm_names[i]);
    char reason[256];
    if (!clattn__xgemm_check(v, NULL, reason, sizeof reason)) {
      snprintf(why, size, "Xgemm/%d: %s", e->precision, reason);
      return -1;
    }
  }
  if (strcmp(e->kernel, "GemmRoutine") == 0 && clattn__clblast_entry_value(e, "XGEMM_MIN_INDIRECT_SIZE") == 0) {
    snprintf(why, size, "GemmRoutine/%d: XGEMM_MIN_INDIRECT_SIZE must be at least 1",
             e->precision);
    return -1;
  }
  return 0;
}

/* ---- Xgemm constraints ---------------------------------------------------------------- */

static int power_of_two_upto(size_t x, size_t max) {
  return x >= 1 && x <= max && (x & (x - 1)) == 0;
}

int clattn__xgemm_check(const size_t v[CLATTN__XGEMM_PARAMS], const clattn_device_info *info,
                        char *why, size_t size) {
  for (int i = 0; i < CLATTN__XGEMM_PARAMS; i++) {
    if (v[i] == (size_t)-1) {
      snprintf(why, size, "missing parameter %s", clattn__xgemm_names[i]);
      return 0;
    }
  }
  size_t gemmk = v[CLATTN__GEMMK], kreg = v[CLATTN__KREG], kwg = v[CLATTN__KWG],
         kwi = v[CLATTN__KWI], mdima = v[CLATTN__MDIMA], mdimc = v[CLATTN__MDIMC],
         mwg = v[CLATTN__MWG], ndimb = v[CLATTN__NDIMB], ndimc = v[CLATTN__NDIMC],
         nwg = v[CLATTN__NWG], sa = v[CLATTN__SA], sb = v[CLATTN__SB], strm = v[CLATTN__STRM],
         strn = v[CLATTN__STRN], vwm = v[CLATTN__VWM], vwn = v[CLATTN__VWN];
  if (gemmk > 1 || sa > 1 || sb > 1 || strm > 1 || strn > 1) {
    snprintf(why, size, "GEMMK, SA, SB, STRM and STRN must be 0 or 1");
    return 0;
  }
  if (!power_of_two_upto(vwm, 16) || !power_of_two_upto(vwn, 16)) {
    snprintf(why, size, "VWM and VWN must be 1, 2, 4, 8 or 16");
    return 0;
  }
  size_t sizes[] = {kreg, kwg, kwi, mdima, mdimc, mwg, ndimb, ndimc, nwg};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (sizes[i] < 1 || sizes[i] > 4096) {
      snprintf(why, size,
               "KREG, KWG, KWI, MDIMA, MDIMC, MWG, NDIMB, NDIMC and NWG must be 1 .. 4096");
      return 0;
    }
  }
  if (kwg % kwi) {
    snprintf(why, size, "KWG (%zu) must be a multiple of KWI (%zu)", kwg, kwi);
    return 0;
  }
  if (mwg % (mdimc * vwm) || mwg % (mdima * vwm)) {
    snprintf(why, size, "MWG (%zu) must be a multiple of MDIMC*VWM and MDIMA*VWM", mwg);
    return 0;
  }
  if (nwg % (ndimc * vwn) || nwg % (ndimb * vwn)) {
    snprintf(why, size, "NWG (%zu) must be a multiple of NDIMC*VWN and NDIMB*VWN", nwg);
    return 0;
  }
  if (gemmk == 0) {
    /* KDIMA = MDIMC*NDIMC/MDIMA and KDIMB = MDIMC*NDIMC/NDIMB must be whole and divide KWG. */
    size_t threads = mdimc * ndimc;
    if (kreg != 1) {
      snprintf(why, size, "GEMMK=0 needs KREG=1");
      return 0;
    }
    if (threads % mdima || threads % ndimb || kwg % (threads / mdima) || kwg % (threads / ndimb)) {
      snprintf(why, size, "KWG (%zu) must be a multiple of MDIMC*NDIMC/MDIMA and MDIMC*NDIMC/NDIMB",
               kwg);
      return 0;
    }
  } else {
    if (kreg % vwn) {
      snprintf(why, size, "GEMMK=1 needs KREG (%zu) to be a multiple of VWN (%zu)", kreg, vwn);
      return 0;
    }
    if (mdima != mdimc || ndimb != ndimc || kwg != 1 || kwi != 1 || sa || sb || strm || strn) {
      snprintf(why, size,
               "GEMMK=1 needs MDIMA=MDIMC, NDIMB=NDIMC, KWG=KWI=1 and SA=SB=STRM=STRN=0");
      return 0;
    }
#if CLBLAST_VERSION_MAJOR == 1 && (CLBLAST_VERSION_MINOR < 6 || \
                                   (CLBLAST_VERSION_MINOR == 6 && CLBLAST_VERSION_PATCH < 3))
    /* CLBlast before 1.6.3 sizes the GEMMK=1 grid with NWG along M (fixed in 1.6.3): with
     * MWG != NWG its kernel computes wrong results or reads out of bounds. */
    if (mwg != nwg) {
      snprintf(why, size, "GEMMK=1 needs MWG == NWG with CLBlast %d.%d.%d (fixed in 1.6.3)",
               CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR, CLBLAST_VERSION_PATCH);
      return 0;
    }
#endif
  }
  if (info) {
    size_t threads = mdimc * ndimc;
    if (threads > info->max_work_group_size || mdimc > info->max_work_item_sizes[0] ||
        ndimc > info->max_work_item_sizes[1]) {
      snprintf(why, size, "a work-group of %zu x %zu exceeds the device's limits", mdimc, ndimc);
      return 0;
    }
    unsigned long long local = 4ull * (sa * kwg * mwg + sb * kwg * nwg);
    if (local > info->local_mem_size) {
      snprintf(why, size, "needs %llu bytes of local memory, the device has %llu", local,
               (unsigned long long)info->local_mem_size);
      return 0;
    }
  }
  return 1;
}

/* ---- Applying, and what has been applied --------------------------------------------- */

void clattn__clblast_entry_set(clattn__clblast_entry *entry, const char *kernel, int precision,
                               int count, const char *const *names, const size_t *values) {
  memset(entry, 0, sizeof *entry);
  snprintf(entry->kernel, sizeof entry->kernel, "%s", kernel);
  entry->precision = precision;
  entry->count = count < CLATTN__TUNING_MAX_PARAMS ? count : CLATTN__TUNING_MAX_PARAMS;
  for (int i = 0; i < entry->count; i++) {
    snprintf(entry->names[i], sizeof entry->names[i], "%s", names[i]);
    entry->values[i] = values[i];
  }
}

/* What clattn has handed to CLBlast, per device and kernel/precision: CLBlast's overrides are
 * process-wide, so this registry is too. A spin lock (C11) needs no initialisation. */
#define REGISTRY_CAPACITY 64
typedef struct registry_slot {
  cl_device_id device;
  clattn__clblast_entry entry;
} registry_slot;
static registry_slot registry[REGISTRY_CAPACITY];
static int registry_count;
static atomic_flag registry_lock = ATOMIC_FLAG_INIT;

static void registry_acquire(void) {
  while (atomic_flag_test_and_set_explicit(&registry_lock, memory_order_acquire)) {
  }
}
static void registry_release(void) {
  atomic_flag_clear_explicit(&registry_lock, memory_order_release);
}

static registry_slot *registry_find(cl_device_id device, const char *kernel, int precision) {
  for (int i = 0; i < registry_count; i++) {
    if (registry[i].device == device && registry[i].entry.precision == precision &&
        strcmp(registry[i].entry.kernel, kernel) == 0)
      return &registry[i];
  }
  return NULL;
}

int clattn__clblast_current(cl_device_id device, const char *kernel, int precision,
                            clattn__clblast_entry *entry) {
  registry_acquire();
  registry_slot *slot = registry_find(device, kernel, precision);
  if (slot && entry) *entry = slot->entry;
  registry_release();
  return slot != NULL;
}

static const char *clblast_status_text(CLBlastStatusCode status) {
  switch (status) {
    case CLBlastInvalidOverrideKernel: return "CLBlast has no such kernel";
    case CLBlastMissingOverrideParameter: return "CLBlast wants more parameters for this kernel";
    default: return "CLBlastOverrideParameters failed";
  }
}

int clattn__clblast_apply(cl_device_id device, const clattn_device_info *info,
                          const clattn__clblast_entry *entry, char *why, size_t size) {
  if (info && strcmp(entry->kernel, "Xgemm") == 0) {
    size_t v[CLATTN__XGEMM_PARAMS];
    for (int i = 0; i < CLATTN__XGEMM_PARAMS; i++)
      v[i] = clattn__clblast_entry_value(entry, clattn__xgemm_names[i]);
    char reason[256];
    if (!clattn__xgemm_check(v, info, reason, sizeof reason)) {
      snprintf(why, size, "Xgemm/%d: %s", entry->precision, reason);
      return -1;
    }
  }
  const char *names[CLATTN__TUNING_MAX_PARAMS];
  for (int i = 0; i < entry->count; i++) names[i] = entry->names[i];
  CLBlastStatusCode status =
      CLBlastOverrideParameters(device, entry->kernel, (CLBlastPrecision)entry->precision,
                                (size_t)entry->count, names, entry->values);
  if (status != CLBlastSuccess) {
    snprintf(why, size, "%s/%d: %s (%d)", entry->kernel, entry->precision,
             clblast_status_text(status), (int)status);
    return -1;
  }
  registry_acquire();
  registry_slot *slot = registry_find(device, entry->kernel, entry->precision);
  if (!slot && registry_count < REGISTRY_CAPACITY) slot = &registry[registry_count++];
  if (slot) {
    slot->device = device;
    slot->entry = *entry;
  }
  registry_release();
  return 0;
}

/* CLBlast 1.5.3's database (src/database/kernels/, the xgemm, xgemm_direct and gemm_routine
 * files for 32 bits):
 * the entry for any device its database does not list (vendor/type "default"), and the
 * default of its "Intel CPU" vendor entry. Other CLBlast versions have other values. */
typedef struct default_set {
  size_t xgemm[CLATTN__XGEMM_PARAMS];
  size_t xgemm_direct[10];
  size_t gemm_routine[1];
} default_set;

static const default_set clblast_default_generic = {
    {0, 1, 32, 2, 8, 8, 32, 16, 16, 32, 1, 1, 0, 0, 4, 2}, {2, 8, 8, 8, 8, 1, 1, 1, 1, 16}, {896}};
static const default_set clblast_default_intel_cpu = {
    {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4}, {2, 8, 8, 8, 8, 1, 1, 4, 4, 32}, {576}};

int clattn__clblast_defaults(const clattn_device_info *info, const char *kernel,
                             clattn__clblast_entry *entry) {
#if CLBLAST_VERSION_MAJOR == 1 && CLBLAST_VERSION_MINOR == 5 && CLBLAST_VERSION_PATCH == 3
  /* CLBlast matches its database on the vendor (with "GenuineIntel" and "Intel(R)
   * Corporation" read as "Intel"), the device type and then the name. Among CPUs only Intel
   * has entries; PoCL's device names ("pthread-...", "cpu-...") match none of them, so PoCL
   * on an Intel CPU gets the Intel CPU default and any other CPU gets the generic default. */
  const default_set *set = NULL;
  if (info->type & CL_DEVICE_TYPE_CPU) {
    int intel = strcmp(info->vendor, "GenuineIntel") == 0 ||
                strcmp(info->vendor, "Intel(R) Corporation") == 0 ||
                strcmp(info->vendor, "Intel") == 0;
    int pocl = clattn__contains_nocase(info->platform_name, "Portable Computing Language") ||
               clattn__contains_nocase(info->platform_version, "PoCL");
    if (!intel)
      set = &clblast_default_generic;
    else if (pocl)
      set = &clblast_default_intel_cpu;
  }
  if (!set) return 0;
  if (strcmp(kernel, "Xgemm") == 0)
    clattn__clblast_entry_set(entry, kernel, 32, CLATTN__XGEMM_PARAMS, clattn__xgemm_names,
                              set->xgemm);
  else if (strcmp(kernel, "XgemmDirect") == 0)
    clattn__clblast_entry_set(entry, kernel, 32, 10, xgemm_direct_names, set->xgemm_direct);
  else if (strcmp(kernel, "GemmRoutine") == 0)
    clattn__clblast_entry_set(entry, kernel, 32, 1, gemm_routine_names, set->gemm_routine);
  else
    return 0;
  return 1;
#else
  (void)info;
  (void)kernel;
  (void)entry;
  (void)clblast_default_generic;
  (void)clblast_default_intel_cpu;
  return 0;
#endif
}
