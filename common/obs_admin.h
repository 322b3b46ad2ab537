/* obs_admin.h - the admin port of obs-producer and obs-worker.
 *
 * Serves GET /healthz (the process answers), /readyz (the program's own
 * readiness callback) and /metrics (obs_metrics_render) from a libevent
 * evhttp loop on its own thread, so a busy main loop never blocks probes. */
#ifndef OBS_ADMIN_H
#define OBS_ADMIN_H

#include <stddef.h>

struct obs_admin;

/* Readiness callback: runs on the admin thread. Return 1 when ready; else 0
 * and a short reason in why. Must be thread-safe. */
typedef int (*obs_ready_fn)(void *ud, char *why, size_t whylen);

/* Start serving on "host:port" (port 0 picks one; "" or "off" disables and
 * returns NULL without error). On error returns NULL and fills errstr. */
struct obs_admin *obs_admin_start(const char *listen, obs_ready_fn ready, void *ud, char *errstr,
                                  size_t errlen);
/* The bound port (useful with port 0). */
int obs_admin_port(const struct obs_admin *a);
/* Stop the thread and free everything; accepts NULL. */
void obs_admin_stop(struct obs_admin *a);

/* Split "host:port" into host (buf) and port; -1 on a malformed address. */
int obs_split_hostport(const char *s, char *host, size_t hostlen, int *port);

#endif
