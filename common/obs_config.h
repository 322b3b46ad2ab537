/* obs_config.h - declarative configuration tables shared by every program.
 *
 * A program describes its settings once, as a table of struct obs_cfg_opt
 * (key, type, default, help, where to store it). obs_config_load() fills a
 * program struct from, in increasing precedence: the defaults, the config
 * file (`key = value` lines, `#` comments), the plain variables
 * KAFKA_BOOTSTRAP / DATABASE_URL, and OBS_<KEY> environment variables.
 * Unknown keys in the file are errors. Keys `kafka.rdkafka.<prop>` (file) and
 * `OBS_RDKAFKA__<PROP>` (environment) are collected verbatim for librdkafka.
 * --help text is generated from the same table (obs_config_usage). */
#ifndef OBS_CONFIG_H
#define OBS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum obs_cfg_type {
    OBS_CFG_STR,  /* char *, malloc'd, owned by the target struct */
    OBS_CFG_INT,  /* long */
    OBS_CFG_BOOL, /* int 0/1; accepts true/false/yes/no/on/off/1/0 */
    OBS_CFG_DBL,  /* double */
};

struct obs_cfg_opt {
    const char *key;        /* dotted name, e.g. "kafka.bootstrap" */
    enum obs_cfg_type type; /* how to parse and store */
    const char *def;        /* default as text; NULL = unset (strings only) */
    size_t offset;          /* offsetof(target struct, field) */
    long min, max;          /* bounds for INT (both 0 = unbounded) */
    const char *help;       /* one line for --help */
};

/* librdkafka pass-through properties collected while loading. */
struct obs_kv {
    char *key;   /* librdkafka property name, e.g. "security.protocol" */
    char *value; /* its value */
};
struct obs_kv_list {
    struct obs_kv *items; /* array of n entries, owned */
    size_t n;             /* entries in use */
};

/* Load opts (terminated by an entry with key NULL) into target. path may be
 * NULL (no file). Every problem is printed to stderr as one line
 * "<prog>: config: <problem>"; returns the number of problems (0 = ok).
 * rdkafka may be NULL when the program takes no pass-through. */
int obs_config_load(const struct obs_cfg_opt *opts, void *target, const char *path,
                    struct obs_kv_list *rdkafka, const char *prog) __attribute__((warn_unused_result));

/* Free the strings obs_config_load stored in target and the kv list. */
void obs_config_free(const struct obs_cfg_opt *opts, void *target, struct obs_kv_list *rdkafka);

/* Print the settings table (key, env var, default, help) for --help. */
void obs_config_usage(FILE *out, const struct obs_cfg_opt *opts);

/* OBS_<KEY> name for a key into buf. */
void obs_config_env_name(const char *key, char *buf, size_t len);

/* Append one pass-through property (copies both strings). */
void obs_kv_list_set(struct obs_kv_list *l, const char *key, const char *value);

#endif
