/* Status names and messages, and the version, all generated from the header's lists. */
#include "clattn.h"

#define STR_(x) #x
#define STR(x) STR_(x)

unsigned clattn_version(void) { return CLATTN_VERSION_HEX; }

const char *clattn_version_string(void) {
  return STR(CLATTN_VERSION_MAJOR) "." STR(CLATTN_VERSION_MINOR) "." STR(CLATTN_VERSION_PATCH);
}

const char *clattn_status_name(clattn_status status) {
  switch (status) {
#define NAME_CASE(name, code, text) \
  case CLATTN_##name:               \
    return "CLATTN_" #name;
    CLATTN_STATUS_MAP(NAME_CASE)
#undef NAME_CASE
  }
  return "CLATTN_UNKNOWN_STATUS";
}

const char *clattn_status_string(clattn_status status) {
  switch (status) {
#define TEXT_CASE(name, code, text) \
  case CLATTN_##name:               \
    return text;
    CLATTN_STATUS_MAP(TEXT_CASE)
#undef TEXT_CASE
  }
  return "unknown status";
}
