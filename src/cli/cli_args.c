/*
 * A deliberately tiny long-option parser. getopt_long is not in C11 or on every platform the
 * library targets, and the tool only needs "--name", "--name VALUE" and "--name=VALUE".
 */
#include <string.h>

#include "cli.h"

/* Prints "clattn: what 'word'" or "clattn COMMAND: what 'word'" and reports a usage error. */
static int clattn_cli_word_reject(const char *command, const char *what, const char *word) {
  fprintf(stderr, "clattn%s%s: %s '%s'\n", command[0] != '\0' ? " " : "", command, what, word);
  return CLATTN_CLI_USAGE;
}

/* The option whose name or alias is `word`, or whose name followed by '=' starts `word`;
 * `*inline_value` then points after the '='. NULL when none matches. */
static const clattn_cli_option *clattn_cli_option_find(const clattn_cli_option *options,
                                                       const char *word,
                                                       const char **inline_value) {
  *inline_value = NULL;
  for (const clattn_cli_option *o = options; o->name != NULL; ++o) {
    size_t len = strlen(o->name);
    if (strcmp(word, o->name) == 0 || (o->alias != NULL && strcmp(word, o->alias) == 0)) {
      return o;
    }
    if (strncmp(word, o->name, len) == 0 && word[len] == '=') {
      *inline_value = word + len + 1;
      return o;
    }
  }
  return NULL;
}

/* Consumes the option at argv[*i] (and its value, when that is the next word). */
static int clattn_cli_option_take(const char *command, const clattn_cli_option *o,
                                  const char *inline_value, int argc, char **argv, int *i) {
  if (o->flag != NULL) {
    if (inline_value != NULL) {
      return clattn_cli_word_reject(command, "this option takes no value:", o->name);
    }
    *o->flag = 1;
    return CLATTN_CLI_OK;
  }
  if (inline_value != NULL) {
    *o->value = inline_value;
    return CLATTN_CLI_OK;
  }
  if (*i + 1 >= argc) {
    return clattn_cli_word_reject(command, "this option needs a value:", o->name);
  }
  *i += 1;
  *o->value = argv[*i];
  return CLATTN_CLI_OK;
}

int clattn_cli_args_parse(const char *command, int argc, char **argv,
                          const clattn_cli_option *options, int *rest) {
  if (rest != NULL) {
    *rest = argc;
  }
  for (int i = 1; i < argc; ++i) {
    /* A lone "-" is conventionally a positional argument (standard input), not an option. */
    int positional = argv[i][0] != '-' || argv[i][1] == '\0';
    if (positional && rest != NULL) {
      *rest = i;
      return CLATTN_CLI_OK;
    }
    if (positional) {
      return clattn_cli_word_reject(command, "unexpected argument", argv[i]);
    }
    const char *inline_value = NULL;
    const clattn_cli_option *o = clattn_cli_option_find(options, argv[i], &inline_value);
    if (o == NULL) {
      return clattn_cli_word_reject(command, "unknown option", argv[i]);
    }
    int rc = clattn_cli_option_take(command, o, inline_value, argc, argv, &i);
    if (rc != CLATTN_CLI_OK) {
      return rc;
    }
  }
  return CLATTN_CLI_OK;
}

int clattn_cli_args_command(const char *command, int argc, char **argv,
                            const clattn_cli_option *options, const int *help,
                            void (*usage)(FILE *out)) {
  if (clattn_cli_args_parse(command, argc, argv, options, NULL) != CLATTN_CLI_OK) {
    usage(stderr);
    return CLATTN_CLI_USAGE;
  }
  if (*help) {
    usage(stdout);
    return CLATTN_CLI_OK;
  }
  return -1;
}

int clattn_cli_args_device_only(const char *command, int argc, char **argv, const char **device,
                                void (*usage)(FILE *out)) {
  int help = 0;
  const clattn_cli_option options[] = {
      {"--help", "-h", NULL, &help},
      {"--device", NULL, device, NULL},
      {NULL, NULL, NULL, NULL},
  };
  return clattn_cli_args_command(command, argc, argv, options, &help, usage);
}
