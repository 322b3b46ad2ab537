/* obs_config.c - config file + environment loader, see obs_config.h. */
#include "obs_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

void obs_config_env_name(const char *key, char *buf, size_t len) {
    size_t u = 0;
    const char *pfx = "OBS_";
    while (*pfx && u + 1 < len)
        buf[u++] = *pfx++;
    for (const char *p = key; *p && u + 1 < len; p++)
        buf[u++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
    buf[u] = '\0';
}

void obs_kv_list_set(struct obs_kv_list *l, const char *key, const char *value) {
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].key, key) == 0) {
            free(l->items[i].value);
            l->items[i].value = strdup(value);
            return;
        }
    }
    struct obs_kv *n = realloc(l->items, (l->n + 1) * sizeof(*n));
    if (!n) abort();
    l->items = n;
    l->items[l->n].key = strdup(key);
    l->items[l->n].value = strdup(value);
    l->n++;
}

static int set_value(const struct obs_cfg_opt *o, void *target, const char *val, const char *origin,
                     const char *prog) {
    char *field = (char *)target + o->offset;
    char *end;
    switch (o->type) {
    case OBS_CFG_STR: {
        char **sp = (char **)(void *)field;
        free(*sp);
        *sp = strdup(val);
        return 0;
    }
    case OBS_CFG_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end) {
            fprintf(stderr, "%s: config: %s (%s): '%s' is not an integer\n", prog, o->key, origin, val);
            return 1;
        }
        if ((o->min || o->max) && (v < o->min || v > o->max)) {
            fprintf(stderr, "%s: config: %s (%s): %ld is out of range [%ld, %ld]\n", prog, o->key, origin, v,
                    o->min, o->max);
            return 1;
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case OBS_CFG_BOOL: {
        int v;
        if (!strcasecmp(val, "true") || !strcasecmp(val, "yes") || !strcasecmp(val, "on") ||
            !strcmp(val, "1"))
            v = 1;
        else if (!strcasecmp(val, "false") || !strcasecmp(val, "no") || !strcasecmp(val, "off") ||
                 !strcmp(val, "0"))
            v = 0;
        else {
            fprintf(stderr, "%s: config: %s (%s): '%s' is not a boolean (true/false)\n", prog, o->key, origin,
                    val);
            return 1;
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case OBS_CFG_DBL: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end) {
            fprintf(stderr, "%s: config: %s (%s): '%s' is not a number\n", prog, o->key, origin, val);
            return 1;
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    }
    return 1;
}

static const struct obs_cfg_opt *find_opt(const struct obs_cfg_opt *opts, const char *key) {
    for (const struct obs_cfg_opt *o = opts; o->key; o++)
        if (strcmp(o->key, key) == 0) return o;
    return NULL;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(const struct obs_cfg_opt *opts, void *target, const char *path,
                     struct obs_kv_list *rdkafka, const char *prog) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: config: cannot open %s: %s\n", prog, path, strerror(errno));
        return 1;
    }
    int errors = 0, lineno = 0;
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "%s: config: %s:%d: expected 'key = value'\n", prog, path, lineno);
            errors++;
            continue;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        char origin[300];
        snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
        if (rdkafka && strncmp(key, "kafka.rdkafka.", 14) == 0 && key[14]) {
            obs_kv_list_set(rdkafka, key + 14, val);
            continue;
        }
        const struct obs_cfg_opt *o = find_opt(opts, key);
        if (!o) {
            fprintf(stderr, "%s: config: %s: unknown key '%s'\n", prog, origin, key);
            errors++;
            continue;
        }
        errors += set_value(o, target, val, origin, prog);
    }
    fclose(f);
    return errors;
}

int obs_config_load(const struct obs_cfg_opt *opts, void *target, const char *path,
                    struct obs_kv_list *rdkafka, const char *prog) {
    int errors = 0;
    for (const struct obs_cfg_opt *o = opts; o->key; o++)
        if (o->def) errors += set_value(o, target, o->def, "default", prog);
    if (path) errors += load_file(opts, target, path, rdkafka, prog);

    /* Plain variables every tool knows, below the OBS_ ones. */
    static const char *const plain[][2] = {{"KAFKA_BOOTSTRAP", "kafka.bootstrap"},
                                           {"DATABASE_URL", "database.url"}};
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(plain[i][0]);
        const struct obs_cfg_opt *o = find_opt(opts, plain[i][1]);
        if (v && *v && o) errors += set_value(o, target, v, plain[i][0], prog);
    }
    for (const struct obs_cfg_opt *o = opts; o->key; o++) {
        char env[256];
        obs_config_env_name(o->key, env, sizeof(env));
        const char *v = getenv(env);
        if (v) errors += set_value(o, target, v, env, prog);
    }
    if (rdkafka) {
        for (char **e = environ; *e; e++) {
            if (strncmp(*e, "OBS_RDKAFKA__", 13) != 0) continue;
            const char *eq = strchr(*e, '=');
            if (!eq || eq == *e + 13) continue;
            char prop[256];
            size_t n = (size_t)(eq - (*e + 13));
            if (n >= sizeof(prop)) n = sizeof(prop) - 1;
            for (size_t i = 0; i < n; i++) {
                char c = (*e)[13 + i];
                prop[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
            }
            prop[n] = '\0';
            obs_kv_list_set(rdkafka, prop, eq + 1);
        }
    }
    return errors;
}

void obs_config_free(const struct obs_cfg_opt *opts, void *target, struct obs_kv_list *rdkafka) {
    if (target) {
        for (const struct obs_cfg_opt *o = opts; o->key; o++) {
            if (o->type != OBS_CFG_STR) continue;
            char **sp = (char **)(void *)((char *)target + o->offset);
            free(*sp);
            *sp = NULL;
        }
    }
    if (rdkafka) {
        for (size_t i = 0; i < rdkafka->n; i++) {
            free(rdkafka->items[i].key);
            free(rdkafka->items[i].value);
        }
        free(rdkafka->items);
        rdkafka->items = NULL;
        rdkafka->n = 0;
    }
}

void obs_config_usage(FILE *out, const struct obs_cfg_opt *opts) {
    fprintf(out, "Settings (config file key / environment variable, default):\n");
    for (const struct obs_cfg_opt *o = opts; o->key; o++) {
        char env[256];
        obs_config_env_name(o->key, env, sizeof(env));
        fprintf(out, "  %-28s %-32s [%s]\n      %s\n", o->key, env, o->def ? o->def : "", o->help);
    }
    fprintf(out, "  kafka.rdkafka.<property>     OBS_RDKAFKA__<PROPERTY>\n"
                 "      any librdkafka property, passed through (e.g. security.protocol)\n"
                 "Also honoured: KAFKA_BOOTSTRAP, DATABASE_URL (below the OBS_ variables).\n");
}
