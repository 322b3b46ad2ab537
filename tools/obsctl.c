/* obsctl.c - Observatory's admin command.
 *
 *   obsctl migrate [--dir DIR] [--status]   apply migrations/NNNN_*.sql in order
 *   obsctl topics ensure [--partitions N]   create the events and DLQ topics
 *   obsctl partitions maintain [--ahead D] [--retention-days D]
 *   obsctl apikey create --tenant T [--name N] [--scopes s1,s2] [--expires-days D]
 *   obsctl apikey revoke --id N | apikey list [--tenant T]
 *
 * Migrations run under a session advisory lock so two pods starting at once
 * apply each file exactly once; every applied file's SHA-256 is recorded and
 * a changed file is refused. Safe to re-run. */
#include "obs_config.h"
#include "obs_kafka.h"
#include "obs_log.h"
#include "obs_pg.h"
#include "obs_util.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "obsctl"
#define MIGRATE_LOCK "SELECT pg_advisory_lock(hashtext('observatory.migrate'))"

struct ctl_config {
    char *log_level;       /* log.level */
    char *database_url;    /* database.url */
    char *kafka_bootstrap; /* kafka.bootstrap */
    char *topic;           /* kafka.topic */
    char *dlq_topic;       /* kafka.dlq_topic */
    long partitions;       /* kafka.partitions */
    long replication;      /* kafka.replication */
    char *migrations_dir;  /* migrations.dir */
    long retention_days;   /* retention.days */
    long ahead_days;       /* partitions.ahead_days */
};

static const struct obs_cfg_opt ctl_opts[] = {
    {"log.level", OBS_CFG_STR, "info", offsetof(struct ctl_config, log_level), 0, 0, "debug|info|warn|error"},
    {"database.url", OBS_CFG_STR, NULL, offsetof(struct ctl_config, database_url), 0, 0,
     "PostgreSQL connection URL"},
    {"kafka.bootstrap", OBS_CFG_STR, "127.0.0.1:19092", offsetof(struct ctl_config, kafka_bootstrap), 0, 0,
     "Kafka bootstrap servers"},
    {"kafka.topic", OBS_CFG_STR, "observatory.session-events", offsetof(struct ctl_config, topic), 0, 0,
     "events topic"},
    {"kafka.dlq_topic", OBS_CFG_STR, "observatory.session-events.dlq", offsetof(struct ctl_config, dlq_topic),
     0, 0, "dead-letter topic"},
    {"kafka.partitions", OBS_CFG_INT, "6", offsetof(struct ctl_config, partitions), 1, 10000,
     "partitions of the events topic (the worker ceiling)"},
    {"kafka.replication", OBS_CFG_INT, "1", offsetof(struct ctl_config, replication), 1, 16,
     "replication factor of new topics"},
    {"migrations.dir", OBS_CFG_STR, "migrations", offsetof(struct ctl_config, migrations_dir), 0, 0,
     "directory of NNNN_name.sql files"},
    {"retention.days", OBS_CFG_INT, "90", offsetof(struct ctl_config, retention_days), 1, 36500,
     "day partitions older than this are dropped by 'partitions maintain'"},
    {"partitions.ahead_days", OBS_CFG_INT, "7", offsetof(struct ctl_config, ahead_days), 0, 365,
     "day partitions created ahead of today"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

static void usage(FILE *out) {
    fprintf(out,
            "usage: obsctl [-c FILE] COMMAND [options]\n\n"
            "Commands:\n"
            "  migrate [--dir DIR] [--status]   apply pending migrations (advisory lock, checksums)\n"
            "  topics ensure [--partitions N]    create the events and DLQ topics if missing\n"
            "  partitions maintain [--ahead D] [--retention-days D]\n"
            "                                    create day partitions ahead, drop those past retention,\n"
            "                                    report rows in the default partitions\n"
            "  apikey create --tenant T [--name N] [--scopes read] [--expires-days D]\n"
            "  apikey revoke --id N\n"
            "  apikey list [--tenant T]\n\n"
            "Options: -c, --config FILE; -h, --help; -V, --version\n\n");
    obs_config_usage(out, ctl_opts);
}

static PGconn *connect_db(const struct ctl_config *cfg) {
    char err[512];
    if (!cfg->database_url) {
        fprintf(stderr, PROG ": database.url is not set (DATABASE_URL or OBS_DATABASE_URL)\n");
        return NULL;
    }
    PGconn *c = obs_pg_connect(cfg->database_url, PROG, 10, err, sizeof(err));
    if (!c) fprintf(stderr, PROG ": cannot connect to PostgreSQL: %s\n", err);
    return c;
}

/* ---- migrate ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    char chunk[8192];
    while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (n + r + 1 > cap) {
            cap = (n + r + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + n, chunk, r);
        n += r;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[n] = '\0';
    *len = n;
    return buf;
}

static int cmd_migrate(const struct ctl_config *cfg, int status_only) {
    int rc = 1;
    char err[1024];
    char **files = NULL;
    size_t nfiles = 0;
    PGresult *res = NULL;
    PGconn *c = NULL;
    DIR *d = opendir(cfg->migrations_dir);
    if (!d) {
        fprintf(stderr, PROG ": migrations directory %s: %s\n", cfg->migrations_dir, strerror(errno));
        return 1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 4, ".sql") || de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char **nf = realloc(files, (nfiles + 1) * sizeof(*files));
        if (!nf) goto out;
        files = nf;
        files[nfiles++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(files, nfiles, sizeof(*files), cmp_str);

    if (!(c = connect_db(cfg))) goto out;
    if (obs_pg_exec(c, "SET client_min_messages = warning", err, sizeof(err)) < 0 ||
        obs_pg_exec(c, MIGRATE_LOCK, err, sizeof(err)) < 0 ||
        obs_pg_exec(c,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": migrate: %s\n", err);
        goto out;
    }
    int applied = 0, pending = 0;
    for (size_t i = 0; i < nfiles; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", cfg->migrations_dir, files[i]);
        size_t len;
        char *sql = read_file(path, &len);
        if (!sql) {
            fprintf(stderr, PROG ": cannot read %s: %s\n", path, strerror(errno));
            goto out;
        }
        char sum[65];
        obs_sha256_hex(sql, len, sum, 32);
        int version = atoi(files[i]);
        char vbuf[16];
        snprintf(vbuf, sizeof(vbuf), "%d", version);
        const char *p1[] = {vbuf};
        res = PQexecParams(c, "SELECT checksum, name FROM schema_migrations WHERE version = $1::int", 1, NULL,
                           p1, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, PROG ": migrate: %s", PQresultErrorMessage(res));
            free(sql);
            goto out;
        }
        if (PQntuples(res) == 1) {
            if (strcmp(PQgetvalue(res, 0, 0), sum) != 0) {
                fprintf(stderr,
                        PROG ": migration %s changed after it was applied (checksum %.12s… recorded, "
                             "%.12s… on disk); add a new migration instead of editing an applied one\n",
                        files[i], PQgetvalue(res, 0, 0), sum);
                free(sql);
                goto out;
            }
            if (status_only) printf("applied  %s\n", files[i]);
            PQclear(res);
            res = NULL;
            free(sql);
            continue;
        }
        PQclear(res);
        res = NULL;
        if (status_only) {
            printf("pending  %s\n", files[i]);
            pending++;
            free(sql);
            continue;
        }
        if (obs_pg_exec(c, "BEGIN", err, sizeof(err)) < 0 || obs_pg_exec(c, sql, err, sizeof(err)) < 0) {
            fprintf(stderr, PROG ": migration %s failed: %s\n", files[i], err);
            free(sql);
            goto out;
        }
        free(sql);
        const char *p3[] = {vbuf, files[i], sum};
        res = PQexecParams(c,
                           "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::int, $2, $3)",
                           3, NULL, p3, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK || obs_pg_exec(c, "COMMIT", err, sizeof(err)) < 0) {
            fprintf(stderr, PROG ": recording migration %s failed: %s%s\n", files[i],
                    PQresultErrorMessage(res), err);
            goto out;
        }
        PQclear(res);
        res = NULL;
        obs_info("migrate", "applied %s", files[i]);
        applied++;
    }
    if (status_only)
        printf("%d pending\n", pending);
    else
        obs_info("migrate", "schema up to date (%zu migrations, %d applied now)", nfiles, applied);
    rc = 0;
out:
    if (res) PQclear(res);
    if (c) PQfinish(c); /* closing the session releases the advisory lock */
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return rc;
}

/* ---- topics ----------------------------------------------------------------------- */

static int cmd_topics(const struct ctl_config *cfg, const struct obs_kv_list *kv) {
    char err[512];
    rd_kafka_conf_t *conf = obs_kafka_conf_new(cfg->kafka_bootstrap, PROG, kv, err, sizeof(err));
    if (!conf) {
        fprintf(stderr, PROG ": %s\n", err);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, PROG ": kafka: %s\n", err);
        return 1;
    }
    conf = NULL; /* owned by rk */
    int rc = 0;
    if (obs_kafka_ensure_topic(rk, cfg->topic, (int)cfg->partitions, (int)cfg->replication, 30000, err,
                               sizeof(err)) < 0 ||
        obs_kafka_ensure_topic(rk, cfg->dlq_topic, (int)cfg->partitions, (int)cfg->replication, 30000, err,
                               sizeof(err)) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        rc = 1;
    } else {
        obs_info("topics", "topics %s and %s exist", cfg->topic, cfg->dlq_topic);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- partitions ----------------------------------------------------------------- */

static int cmd_partitions(const struct ctl_config *cfg) {
    char err[1024];
    PGconn *c = connect_db(cfg);
    if (!c) return 1;
    int rc = 1;
    char ahead[16], keep[16];
    snprintf(ahead, sizeof(ahead), "%ld", cfg->ahead_days);
    snprintf(keep, sizeof(keep), "%ld", cfg->retention_days);
    const char *p[] = {ahead};
    PGresult *r =
        PQexecParams(c,
                     "SELECT count(*) FILTER (WHERE obs_ensure_day_partition(t, "
                     "(now() AT TIME ZONE 'UTC')::date + d)) FROM unnest(ARRAY['events','tool_calls']) t, "
                     "generate_series(0, $1::int) d",
                     1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, PROG ": partitions: %s", PQresultErrorMessage(r));
        goto out;
    }
    obs_info("partitions", "created %s day partitions (today + %ld days ahead)", PQgetvalue(r, 0, 0),
             cfg->ahead_days);
    PQclear(r);
    /* Drop day partitions whose whole day lies before the retention horizon. */
    const char *pk[] = {keep};
    r = PQexecParams(c,
                     "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                     "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('events','tool_calls') "
                     "AND c.relname ~ '_p[0-9]{8}$' AND to_date(right(c.relname, 8), 'YYYYMMDD') < "
                     "(now() AT TIME ZONE 'UTC')::date - $1::int ORDER BY 1",
                     1, NULL, pk, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, PROG ": partitions: %s", PQresultErrorMessage(r));
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        char *q = PQescapeIdentifier(c, name, strlen(name));
        char sql[512];
        snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", q);
        PQfreemem(q);
        if (obs_pg_exec(c, sql, err, sizeof(err)) < 0) {
            fprintf(stderr, PROG ": dropping %s: %s\n", name, err);
            goto out;
        }
        obs_info("partitions", "dropped %s (past %ld days of retention)", name, cfg->retention_days);
    }
    PQclear(r);
    r = PQexec(c, "SELECT (SELECT count(*) FROM events_default), (SELECT count(*) FROM tool_calls_default)");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, PROG ": partitions: %s", PQresultErrorMessage(r));
        goto out;
    }
    printf("default partitions: events_default %s rows, tool_calls_default %s rows\n", PQgetvalue(r, 0, 0),
           PQgetvalue(r, 0, 1));
    rc = 0;
out:
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* ---- api keys ------------------------------------------------------------------------ */

static int cmd_apikey(const struct ctl_config *cfg, const char *sub, const char *tenant, const char *name,
                      const char *scopes, long expires_days, long id) {
    PGconn *c = connect_db(cfg);
    if (!c) return 1;
    int rc = 1;
    PGresult *r = NULL;
    if (strcmp(sub, "create") == 0) {
        if (!tenant || !*tenant) {
            fprintf(stderr, PROG ": apikey create needs --tenant\n");
            goto out;
        }
        unsigned char rnd[24];
        FILE *u = fopen("/dev/urandom", "rb");
        if (!u || fread(rnd, 1, sizeof(rnd), u) != sizeof(rnd)) {
            fprintf(stderr, PROG ": cannot read /dev/urandom\n");
            if (u) fclose(u);
            goto out;
        }
        fclose(u);
        char key[64] = "obs_";
        static const char hx[] = "0123456789abcdef";
        for (size_t i = 0; i < sizeof(rnd); i++) {
            key[4 + 2 * i] = hx[rnd[i] >> 4];
            key[5 + 2 * i] = hx[rnd[i] & 15];
        }
        key[4 + 2 * sizeof(rnd)] = '\0';
        char prefix[13];
        obs_strlcpy(prefix, key, sizeof(prefix));
        char scopes_arr[512], exp[32];
        snprintf(scopes_arr, sizeof(scopes_arr), "{%s}", scopes ? scopes : "read");
        snprintf(exp, sizeof(exp), "%ld", expires_days);
        const char *p[] = {tenant, name ? name : "default", key, prefix, scopes_arr, exp};
        r = PQexecParams(
            c,
            "INSERT INTO api_keys (tenant, name, key_hash, key_prefix, scopes, expires_at) "
            "VALUES ($1, $2, sha256(convert_to($3, 'UTF8')), $4, $5::text[], "
            "CASE WHEN $6::int > 0 THEN now() + make_interval(days => $6::int) END) RETURNING id",
            6, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, PROG ": apikey create: %s", PQresultErrorMessage(r));
            goto out;
        }
        printf("%s\n", key);
        fprintf(stderr, "created key id %s for tenant %s (shown once; only its hash is stored)\n",
                PQgetvalue(r, 0, 0), tenant);
    } else if (strcmp(sub, "revoke") == 0) {
        char ib[32];
        snprintf(ib, sizeof(ib), "%ld", id);
        const char *p[] = {ib};
        r = PQexecParams(
            c, "UPDATE api_keys SET revoked_at = now() WHERE id = $1::bigint AND revoked_at IS NULL", 1, NULL,
            p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, PROG ": apikey revoke: %s", PQresultErrorMessage(r));
            goto out;
        }
        if (strcmp(PQcmdTuples(r), "1") != 0) {
            fprintf(stderr, PROG ": no active key with id %ld\n", id);
            goto out;
        }
        printf("revoked key %ld\n", id);
    } else if (strcmp(sub, "list") == 0) {
        const char *p[] = {tenant};
        r = PQexecParams(c,
                         "SELECT id, tenant, name, key_prefix, array_to_string(scopes, ','), created_at, "
                         "coalesce(expires_at::text, '-'), coalesce(revoked_at::text, '-') FROM api_keys "
                         "WHERE $1::text IS NULL OR tenant = $1 ORDER BY id",
                         1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, PROG ": apikey list: %s", PQresultErrorMessage(r));
            goto out;
        }
        printf("%-6s %-16s %-16s %-14s %-12s %s\n", "id", "tenant", "name", "prefix", "scopes", "revoked");
        for (int i = 0; i < PQntuples(r); i++)
            printf("%-6s %-16s %-16s %-14s %-12s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                   PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 7));
    } else {
        fprintf(stderr, PROG ": unknown apikey command '%s' (create, revoke, list)\n", sub);
        goto out;
    }
    rc = 0;
out:
    PQclear(r);
    PQfinish(c);
    return rc;
}

int main(int argc, char **argv) {
    obs_log_init(PROG);
    const char *cfg_path = NULL, *dir = NULL, *tenant = NULL, *name = NULL, *scopes = NULL;
    long partitions = 0, ahead = -1, retention = 0, expires = 0, id = 0;
    int status_only = 0;
    static const struct option lopts[] = {
        {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},      {"dir", required_argument, 0, 'd'},
        {"status", no_argument, 0, 's'},       {"partitions", required_argument, 0, 'p'},
        {"ahead", required_argument, 0, 'a'},  {"retention-days", required_argument, 0, 'r'},
        {"tenant", required_argument, 0, 't'}, {"name", required_argument, 0, 'n'},
        {"scopes", required_argument, 0, 'S'}, {"expires-days", required_argument, 0, 'e'},
        {"id", required_argument, 0, 'i'},     {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "+c:hV", lopts, NULL)) != -1 ||
           (optind < argc && argv[optind][0] != '-' && 0)) {
        switch (o) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("obsctl %s\n", OBS_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind++];
    const char *sub = optind < argc && argv[optind][0] != '-' ? argv[optind++] : "";
    /* Options after the command. */
    while ((o = getopt_long(argc, argv, "c:", lopts, NULL)) != -1) {
        switch (o) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 's':
            status_only = 1;
            break;
        case 'p':
            partitions = atol(optarg);
            break;
        case 'a':
            ahead = atol(optarg);
            break;
        case 'r':
            retention = atol(optarg);
            break;
        case 't':
            tenant = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'S':
            scopes = optarg;
            break;
        case 'e':
            expires = atol(optarg);
            break;
        case 'i':
            id = atol(optarg);
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(cmd, "migrate") == 0 && *sub) {
        fprintf(stderr, PROG ": migrate takes no sub-command ('%s')\n", sub);
        return 2;
    }
    struct ctl_config cfg = {0};
    struct obs_kv_list kv = {0};
    int rc;
    if (obs_config_load(ctl_opts, &cfg, cfg_path, &kv, PROG) || obs_log_set_level_name(cfg.log_level) < 0) {
        fprintf(stderr, PROG ": configuration is invalid (see the lines above)\n");
        rc = 2;
        goto done;
    }
    if (dir) {
        free(cfg.migrations_dir);
        cfg.migrations_dir = strdup(dir);
    }
    if (partitions > 0) cfg.partitions = partitions;
    if (ahead >= 0) cfg.ahead_days = ahead;
    if (retention > 0) cfg.retention_days = retention;

    if (strcmp(cmd, "migrate") == 0)
        rc = cmd_migrate(&cfg, status_only);
    else if (strcmp(cmd, "topics") == 0 && strcmp(sub, "ensure") == 0)
        rc = cmd_topics(&cfg, &kv);
    else if (strcmp(cmd, "partitions") == 0 && strcmp(sub, "maintain") == 0)
        rc = cmd_partitions(&cfg);
    else if (strcmp(cmd, "apikey") == 0)
        rc = cmd_apikey(&cfg, sub, tenant, name, scopes, expires, id);
    else {
        fprintf(stderr, PROG ": unknown command '%s %s' (try --help)\n", cmd, sub);
        rc = 2;
    }
done:
    obs_config_free(ctl_opts, &cfg, &kv);
    return rc;
}
