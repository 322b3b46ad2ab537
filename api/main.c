/* api/main.c - obs-api entry point: command line, configuration table,
 * logging, then api_server_run() until SIGTERM/SIGINT.
 * Exit codes: 0 after a graceful stop, 1 when the server cannot start,
 * 2 for bad usage or configuration (one line per problem on stderr). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_server.h"
#include "obs_admin.h"
#include "obs_config.h"
#include "obs_log.h"
#include "obs_metrics.h"
#include "obs_util.h"

#define PROG "obs-api"

/* The settings table: --help and docs/api.md are written from it. */
static const struct obs_cfg_opt api_opts[] = {
    {"http.listen", OBS_CFG_STR, "127.0.0.1:8080", offsetof(struct api_config, listen), 0, 0,
     "host:port to serve the API, /healthz, /readyz and /metrics on (port 0 = any free port)"},
    {"http.threads", OBS_CFG_INT, "4", offsetof(struct api_config, threads), 1, 256,
     "HTTP threads; each has its own PostgreSQL connection"},
    {"database.url", OBS_CFG_STR, NULL, offsetof(struct api_config, database_url), 0, 0,
     "PostgreSQL connection URL (required; also DATABASE_URL)"},
    {"db.statement_timeout_ms", OBS_CFG_INT, "5000", offsetof(struct api_config, statement_timeout_ms), 1,
     3600000, "statement_timeout set on every connection"},
    {"db.connect_timeout_s", OBS_CFG_INT, "3", offsetof(struct api_config, connect_timeout_s), 1, 60,
     "PostgreSQL connect timeout in seconds"},
    {"http.max_body_bytes", OBS_CFG_INT, "65536", offsetof(struct api_config, max_body_bytes), 0, 1073741824,
     "largest request body accepted"},
    {"http.max_header_bytes", OBS_CFG_INT, "16384", offsetof(struct api_config, max_header_bytes), 1024,
     1048576, "largest request header block accepted"},
    {"http.timeout_s", OBS_CFG_INT, "30", offsetof(struct api_config, timeout_s), 1, 3600,
     "read/write timeout of a connection in seconds"},
    {"cors.allow_origin", OBS_CFG_STR, "", offsetof(struct api_config, cors_allow_origin), 0, 0,
     "Access-Control-Allow-Origin value; empty = CORS off"},
    {"auth.cache_s", OBS_CFG_INT, "30", offsetof(struct api_config, auth_cache_s), 0, 3600,
     "longest a valid API key stays cached per thread; key changes are notified at once, this bound applies "
     "while the LISTEN connection is down (0 = no cache)"},
    {"rate_limit.rps", OBS_CFG_INT, "0", offsetof(struct api_config, rate_limit_rps), 0, 1000000,
     "requests per second allowed per API key (token bucket shared by all threads; 0 = no limit)"},
    {"rate_limit.burst", OBS_CFG_INT, "0", offsetof(struct api_config, rate_limit_burst), 0, 10000000,
     "token bucket size per API key (0 = twice rate_limit.rps)"},
    {"log.level", OBS_CFG_STR, "info", offsetof(struct api_config, log_level), 0, 0, "debug|info|warn|error"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

static void usage(FILE *out) {
    fprintf(out, "usage: " PROG " [-c FILE] [--help] [--version]\n\n"
                 "Observatory query API: GET /api/v1/sessions, /api/v1/sessions/{id}[/events|/tool_calls],\n"
                 "/api/v1/usage, /api/v1/tools, /api/v1/projects, /api/v1/users, /api/v1/insights,\n"
                 "/api/v1/search (Bearer API key), /healthz, /readyz, /metrics.\n\n"
                 "options:\n"
                 "  -c, --config FILE   read settings from FILE (key = value lines)\n"
                 "  -h, --help          this text\n"
                 "  -V, --version       print the version\n\n"
                 "settings (file key, environment variable, default):\n");
    obs_config_usage(out, api_opts);
}

int main(int argc, char **argv) {
    const char *cfg_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf(PROG " %s\n", OBS_VERSION);
            return 0;
        } else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            cfg_path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            cfg_path = argv[i] + 9;
        } else {
            fprintf(stderr, PROG ": unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    obs_log_init(PROG);
    struct api_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    int problems = obs_config_load(api_opts, &cfg, cfg_path, NULL, PROG);
    if (!problems) {
        char host[256];
        int port;
        if (!cfg.database_url || !cfg.database_url[0]) {
            fprintf(stderr, PROG ": config: database.url is required (or set DATABASE_URL)\n");
            problems++;
        }
        if (!cfg.listen || obs_split_hostport(cfg.listen, host, sizeof(host), &port) < 0 || port < 0 ||
            port > 65535) {
            fprintf(stderr, PROG ": config: http.listen '%s' is not host:port\n",
                    cfg.listen ? cfg.listen : "");
            problems++;
        }
        if (obs_log_set_level_name(cfg.log_level) < 0) {
            fprintf(stderr, PROG ": config: log.level '%s' is not debug|info|warn|error\n", cfg.log_level);
            problems++;
        }
    }
    if (problems) {
        obs_config_free(api_opts, &cfg, NULL);
        return 2;
    }
    int rc = api_server_run(&cfg) == 0 ? 0 : 1;
    obs_config_free(api_opts, &cfg, NULL);
    obs_metrics_shutdown();
    return rc;
}
