/* obs_admin.c - admin HTTP server thread, see obs_admin.h. */
#include "obs_admin.h"

#include "obs_log.h"
#include "obs_metrics.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct obs_admin {
    struct event_base *base;        /* the admin thread's loop */
    struct evhttp *http;            /* server bound to the admin port */
    struct evhttp_bound_socket *bs; /* the listening socket */
    pthread_t thread;               /* runs event_base_dispatch */
    int started;                    /* thread was created */
    int port;                       /* bound port */
    obs_ready_fn ready;             /* program readiness callback */
    void *ud;                       /* its argument */
};

int obs_split_hostport(const char *s, char *host, size_t hostlen, int *port) {
    const char *c = strrchr(s, ':');
    if (!c || c == s) return -1;
    size_t hl = (size_t)(c - s);
    if (hl >= hostlen) return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    long p = strtol(c + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == c + 1) return -1;
    *port = (int)p;
    return 0;
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *ctype,
                       struct evbuffer *body) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_send_reply(req, code, reason, body);
}

/* Runs on the admin thread. */
static void on_request(struct evhttp_request *req, void *arg) {
    struct obs_admin *a = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, "no memory");
        return;
    }
    if (strcmp(uri, "/healthz") == 0) {
        evbuffer_add_printf(b, "{\"status\":\"ok\"}\n");
        reply_text(req, 200, "OK", "application/json", b);
    } else if (strcmp(uri, "/readyz") == 0) {
        char why[256] = "";
        int ok = a->ready ? a->ready(a->ud, why, sizeof(why)) : 1;
        char esc[600];
        size_t used = 0;
        obs_json_escape_into(esc, sizeof(esc), &used, why, strlen(why));
        esc[used] = '\0';
        evbuffer_add_printf(b, "{\"status\":\"%s\",\"reason\":\"%s\"}\n", ok ? "ready" : "not_ready", esc);
        reply_text(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "application/json", b);
    } else if (strcmp(uri, "/metrics") == 0) {
        obs_metrics_render(b);
        reply_text(req, 200, "OK", "text/plain; version=0.0.4", b);
    } else {
        evbuffer_add_printf(b, "{\"error\":\"not_found\"}\n");
        reply_text(req, 404, "Not Found", "application/json", b);
    }
    evbuffer_free(b);
}

static void *admin_main(void *arg) {
    struct obs_admin *a = arg;
    event_base_dispatch(a->base);
    return NULL;
}

struct obs_admin *obs_admin_start(const char *listen, obs_ready_fn ready, void *ud, char *errstr,
                                  size_t errlen) {
    if (errlen) errstr[0] = '\0';
    if (!listen || !*listen || strcmp(listen, "off") == 0) return NULL;
    char host[256];
    int port;
    if (obs_split_hostport(listen, host, sizeof(host), &port) < 0) {
        snprintf(errstr, errlen, "admin.listen '%s' is not host:port", listen);
        return NULL;
    }
    evthread_use_pthreads();
    struct obs_admin *a = calloc(1, sizeof(*a));
    if (!a) goto err;
    a->ready = ready;
    a->ud = ud;
    a->base = event_base_new();
    if (!a->base) goto err;
    a->http = evhttp_new(a->base);
    if (!a->http) goto err;
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(a->http, on_request, a);
    a->bs = evhttp_bind_socket_with_handle(a->http, host, (ev_uint16_t)port);
    if (!a->bs) {
        snprintf(errstr, errlen, "cannot listen on %s (address in use or not local?)", listen);
        goto err;
    }
    {
        evutil_socket_t fd = evhttp_bound_socket_get_fd(a->bs);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            a->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (pthread_create(&a->thread, NULL, admin_main, a) != 0) {
        snprintf(errstr, errlen, "cannot start admin thread");
        goto err;
    }
    a->started = 1;
    return a;
err:
    if (errstr[0] == '\0') snprintf(errstr, errlen, "admin server: out of memory");
    obs_admin_stop(a);
    return NULL;
}

int obs_admin_port(const struct obs_admin *a) { return a ? a->port : 0; }

void obs_admin_stop(struct obs_admin *a) {
    if (!a) return;
    if (a->started) {
        event_base_loopbreak(a->base);
        pthread_join(a->thread, NULL);
    }
    if (a->http) evhttp_free(a->http);
    if (a->base) event_base_free(a->base);
    free(a);
}
