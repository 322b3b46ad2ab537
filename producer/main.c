/* main.c - obs-producer, the edge agent: follows Claude Code transcripts
 * under the watch roots and publishes every complete line to Kafka, keyed
 * by session id, with a per-file checkpoint that only advances on delivery
 * reports.
 *
 * Loop choice: a plain poll(2) loop on one thread, not libevent. The loop
 * waits on exactly three descriptors (inotify, a signalfd for SIGTERM/SIGINT,
 * and librdkafka's main-queue wake-up pipe) plus three periodic deadlines
 * (rescan, checkpoint/gauges, progress). All state (files, pending acks,
 * checkpoint) is touched only by this thread: delivery reports are served
 * by rd_kafka_poll() here, so no locks are needed. libevent would add a
 * dependency layer for no gain; the admin port (obs_admin) has its own
 * libevent thread and reads only atomics and obs_metrics.
 *
 * Reading order: struct prod_file (one followed file), file_pump() (read,
 * split, publish), on_delivery() (ack tracking), scan_dir() / on_inotify()
 * (discovery), run() (the loop), main() (config and exit codes). */
#include "obs_admin.h"
#include "obs_codec.h"
#include "obs_config.h"
#include "obs_kafka.h"
#include "obs_log.h"
#include "obs_metrics.h"
#include "obs_util.h"
#include "prod_ckpt.h"
#include "prod_enc.h"
#include "prod_path.h"
#include "prod_redact.h"
#include "prod_split.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "obs-producer"
#define MAX_ROOTS 32
#define READ_CHUNK (256 * 1024)   /* bytes per read(2) */
#define PUMP_BUDGET (1024 * 1024) /* bytes per file per loop turn (fairness) */
#define ENVELOPE_MARGIN 4096      /* bytes of a record that are not the line */
#define FILE_BUCKETS 4096
#define TRIM_AFTER_BYTES (4 * 1024 * 1024) /* malloc_trim once idle after this much was in flight */

/* ---- configuration ---------------------------------------------------------- */

struct prod_config {
    char *roots;             /* watch.roots */
    char *include;           /* watch.include */
    char *exclude;           /* watch.exclude */
    long rescan_ms;          /* watch.rescan_interval_ms */
    char *ckpt_path;         /* checkpoint.path */
    long ckpt_interval_ms;   /* checkpoint.interval_ms */
    char *tenant;            /* tenant */
    char *host;              /* host (default gethostname) */
    char *user;              /* user (default the OS user) */
    char *bootstrap;         /* kafka.bootstrap */
    char *topic;             /* kafka.topic */
    long max_inflight_bytes; /* kafka.max_inflight_bytes */
    long message_max_bytes;  /* kafka.message_max_bytes */
    char *compression;       /* kafka.compression */
    long linger_ms;          /* kafka.linger_ms */
    char *admin_listen;      /* admin.listen */
    char *log_level;         /* log.level */
    long flush_timeout_ms;   /* shutdown.flush_timeout_ms */
    long progress_ms;        /* progress.interval_ms */
    int redact_enabled;      /* redact.enabled */
    int redact_metadata;     /* redact.metadata_only */
    char *redact_rules;      /* redact.rules */
};

static const struct obs_cfg_opt prod_opts[] = {
    {"watch.roots", OBS_CFG_STR, "~/.claude/projects", offsetof(struct prod_config, roots), 0, 0,
     "comma-separated directories to follow recursively (~ expands to $HOME)"},
    {"watch.include", OBS_CFG_STR, "*.jsonl", offsetof(struct prod_config, include), 0, 0,
     "comma-separated fnmatch globs on the path relative to its root"},
    {"watch.exclude", OBS_CFG_STR, "", offsetof(struct prod_config, exclude), 0, 0,
     "comma-separated globs excluded even when included"},
    {"watch.rescan_interval_ms", OBS_CFG_INT, "5000", offsetof(struct prod_config, rescan_ms), 100, 3600000,
     "full rescan period, the safety net behind inotify"},
    {"checkpoint.path", OBS_CFG_STR, "~/.local/state/observatory/producer.checkpoint",
     offsetof(struct prod_config, ckpt_path), 0, 0, "checkpoint file (written atomically)"},
    {"checkpoint.interval_ms", OBS_CFG_INT, "200", offsetof(struct prod_config, ckpt_interval_ms), 10, 600000,
     "at most one checkpoint write per period while acks arrive"},
    {"tenant", OBS_CFG_STR, "default", offsetof(struct prod_config, tenant), 0, 0,
     "tenant id of every record"},
    {"host", OBS_CFG_STR, NULL, offsetof(struct prod_config, host), 0, 0, "host name (default: gethostname)"},
    {"user", OBS_CFG_STR, NULL, offsetof(struct prod_config, user), 0, 0, "user name (default: the OS user)"},
    {"kafka.bootstrap", OBS_CFG_STR, "127.0.0.1:19092", offsetof(struct prod_config, bootstrap), 0, 0,
     "Kafka bootstrap servers"},
    {"kafka.topic", OBS_CFG_STR, "observatory.session-events", offsetof(struct prod_config, topic), 0, 0,
     "events topic"},
    {"kafka.max_inflight_bytes", OBS_CFG_INT, "16777216", offsetof(struct prod_config, max_inflight_bytes),
     65536, LONG_MAX, "stop reading while this many record bytes wait for acknowledgement"},
    {"kafka.message_max_bytes", OBS_CFG_INT, "1000000", offsetof(struct prod_config, message_max_bytes),
     16384, 1000000000, "largest record; longer lines become an observatory-oversize record"},
    {"kafka.compression", OBS_CFG_STR, "lz4", offsetof(struct prod_config, compression), 0, 0,
     "none|gzip|snappy|lz4|zstd"},
    {"kafka.linger_ms", OBS_CFG_INT, "5", offsetof(struct prod_config, linger_ms), 0, 10000,
     "batching delay (librdkafka linger.ms)"},
    {"admin.listen", OBS_CFG_STR, "127.0.0.1:9101", offsetof(struct prod_config, admin_listen), 0, 0,
     "host:port of /healthz /readyz /metrics (off disables)"},
    {"log.level", OBS_CFG_STR, "info", offsetof(struct prod_config, log_level), 0, 0,
     "debug|info|warn|error"},
    {"shutdown.flush_timeout_ms", OBS_CFG_INT, "10000", offsetof(struct prod_config, flush_timeout_ms), 0,
     3600000, "on SIGTERM, wait at most this long for outstanding acknowledgements"},
    {"progress.interval_ms", OBS_CFG_INT, "5000", offsetof(struct prod_config, progress_ms), 100, 3600000,
     "progress log period while more than 1 MB is behind"},
    {"redact.enabled", OBS_CFG_BOOL, "true", offsetof(struct prod_config, redact_enabled), 0, 0,
     "replace secrets (built-in and redact.rules) by [REDACTED:<rule>] before publishing"},
    {"redact.metadata_only", OBS_CFG_BOOL, "false", offsetof(struct prod_config, redact_metadata), 0, 0,
     "publish only metadata: drop message text, tool inputs and results"},
    {"redact.rules", OBS_CFG_STR, "", offsetof(struct prod_config, redact_rules), 0, 0,
     "extra rules: name=PCRE2 pattern;name2=pattern ('\\;' is a literal ;)"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

/* ---- state -------------------------------------------------------------------- */

/* One line sent (or skipped) and not yet acknowledged, in file order. */
struct prod_pending {
    uint64_t next; /* file offset after the line: the checkpoint once acked */
    int acked;     /* 1 once Kafka acknowledged it (or nothing was sent) */
};

/* One followed file. Freed only when no message refers to it (inflight 0). */
struct prod_file {
    char *path;               /* absolute path (owned) */
    char *rel;                /* path relative to its root: source_path (owned) */
    char session[256];        /* Kafka key */
    size_t session_len;       /* strlen(session) */
    uint64_t dev, ino;        /* identity on disk */
    char fp[PROD_FP_LEN];     /* fingerprint, "" until the first line is complete */
    char file_id[128];        /* dev:ino:fp */
    uint64_t size;            /* size at the last look */
    uint64_t read_off;        /* next byte to read (the splitter holds any partial line) */
    uint64_t acked;           /* every byte before it is acknowledged */
    struct prod_splitter sp;  /* carry of the partial line */
    struct prod_pending *q;   /* pending lines, q[qhead..qlen) (owned) */
    size_t qhead, qlen, qcap; /* ring bounds */
    uint64_t qbase;           /* sequence number of q[qhead] */
    uint64_t next_seq;        /* sequence number of the next line */
    long inflight;            /* messages of this file in librdkafka */
    int dirty;                /* may have bytes to read */
    int gone;                 /* vanished from disk */
    int rewind;               /* a delivery failed: re-read from acked when inflight is 0 */
    unsigned scan_gen;        /* last rescan that saw it */
    struct prod_file *next;   /* hash bucket chain */
};

/* Opaque of one produced message. */
struct prod_msg {
    struct prod_file *pf;       /* its file */
    uint64_t seq;               /* its pending entry */
    uint64_t offset;            /* line offset */
    uint64_t bytes;             /* line length (for the oversize record) */
    size_t len;                 /* record size counted in inflight_bytes */
    double t_read;              /* obs_mono_s() when read */
    int oversize;               /* 1 if this is already an oversize record */
    struct prod_msg *free_next; /* free list link */
};

#define MSG_FREE_MAX 65536 /* opaques kept for reuse (one per in-flight record) */

/* One inotify watch. */
struct prod_watch {
    int wd;     /* watch descriptor */
    int root;   /* index into roots */
    char *path; /* directory (owned) */
};

struct prod {
    struct prod_config cfg;                /* settings */
    struct obs_kv_list kv;                 /* kafka.rdkafka.* pass-through */
    int once;                              /* --once */
    char *roots[MAX_ROOTS];                /* expanded roots (owned) */
    int nroots;                            /* count */
    char ckpt_path[4096];                  /* expanded checkpoint path */
    struct prod_ckpt loaded;               /* checkpoint read at start-up */
    struct prod_file *files[FILE_BUCKETS]; /* hash of followed files */
    long nfiles;                           /* files followed */
    unsigned scan_gen;                     /* rescan counter */
    struct prod_watch *watches;            /* inotify watches (owned) */
    size_t nwatches, capwatches;           /* count, allocated */
    int ifd;                               /* inotify fd or -1 */
    int sfd;                               /* signalfd or -1 */
    int kpipe[2];                          /* librdkafka wake-up pipe */
    rd_kafka_t *rk;                        /* producer */
    rd_kafka_topic_t *rkt;                 /* topic handle */
    struct obs_codec *codec;               /* avro-c encoder: the reference, and the fallback */
    struct prod_enc enc;                   /* direct encoder, same bytes (ADR 0014) */
    int enc_ok;                            /* 1: enc passed its self-check against codec */
    int in_kpoll;                          /* inside kpoll(): dr_now may be shared */
    double dr_now;                         /* obs_mono_s() for the reports of one kpoll(), 0: not read */
    int trim_due;                          /* over TRIM_AFTER_BYTES were in flight since the last trim */
    struct prod_redact *redact;            /* redactor, NULL when off */
    struct prod_eid *eid;                  /* event-id hasher with the pumped file's prefix */
    struct prod_file *eid_pf;              /* the file eid's prefix belongs to (inside file_pump) */
    struct obs_admin *admin;               /* admin port */
    pthread_t meta_thread;                 /* readiness probe */
    int meta_started;                      /* 1 when meta_thread runs */
    atomic_int ready;                      /* first metadata request succeeded */
    atomic_int fatal;                      /* librdkafka fatal error seen */
    atomic_int stop;                       /* shutdown requested */
    long inflight;                         /* messages in librdkafka */
    long inflight_bytes;                   /* their record bytes */
    int ckpt_dirty;                        /* offsets changed since the last write */
    long delivery_failures;                /* failed deliveries (for --once exit code) */
    size_t max_line;                       /* longer lines are oversize */
    struct prod_msg *msg_free;             /* reusable opaques (no malloc per line) */
    long nmsg_free;                        /* their count */
    double read_mono;                      /* obs_mono_s() of the last read(2) in file_pump */
    int64_t read_wall_ms;                  /* obs_now_ms() of the same read: observed_time */
    /* totals for the summary */
    uint64_t lines, bytes, oversize;
    /* metrics */
    struct obs_metric *m_lines, *m_bytes, *m_errors, *m_latency, *m_queue, *m_files, *m_behind, *m_oversize,
        *m_blank, *m_ckpt_writes, *m_truncated, *m_replaced;
};

/* ---- files table ----------------------------------------------------------------- */

static unsigned path_hash(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % FILE_BUCKETS;
}

static struct prod_file *file_find(struct prod *p, const char *path) {
    for (struct prod_file *pf = p->files[path_hash(path)]; pf; pf = pf->next)
        if (strcmp(pf->path, path) == 0) return pf;
    return NULL;
}

/* Free one file; accepts NULL. */
static void file_free(struct prod_file *pf) {
    if (!pf) return;
    prod_splitter_free(&pf->sp);
    free(pf->q);
    free(pf->path);
    free(pf->rel);
    free(pf);
}

static void file_set_id(struct prod_file *pf) {
    prod_file_id(pf->dev, pf->ino, pf->fp, pf->file_id, sizeof(pf->file_id));
}

/* Forget every pending line and restart reading at off. */
static void file_restart(struct prod_file *pf, uint64_t off) {
    pf->qhead = pf->qlen = 0;
    pf->qbase = pf->next_seq;
    pf->read_off = off;
    pf->acked = off;
    prod_splitter_reset(&pf->sp, off);
    pf->dirty = 1;
    pf->rewind = 0;
}

/* Start following path (rel under its root). Resumes from the loaded
 * checkpoint when it has an entry; file_pump() verifies the identity. */
static struct prod_file *file_add(struct prod *p, const char *path, const char *rel) {
    struct prod_file *pf = calloc(1, sizeof(*pf));
    if (!pf || !(pf->path = strdup(path)) || !(pf->rel = strdup(rel))) {
        file_free(pf);
        return NULL;
    }
    if (prod_session_id(rel, pf->session, sizeof(pf->session)) < 0)
        obs_strlcpy(pf->session, rel, sizeof(pf->session));
    pf->session_len = strlen(pf->session);
    prod_splitter_init(&pf->sp, 0, p->max_line);
    struct prod_ckpt_entry *e = prod_ckpt_find(&p->loaded, path);
    if (e) {
        pf->dev = e->dev;
        pf->ino = e->ino;
        obs_strlcpy(pf->fp, e->fp, sizeof(pf->fp));
        file_set_id(pf);
        file_restart(pf, e->offset);
        obs_debug("file", "%s: resuming at offset %" PRIu64, path, e->offset);
    } else {
        file_restart(pf, 0);
    }
    unsigned h = path_hash(path);
    pf->next = p->files[h];
    p->files[h] = pf;
    p->nfiles++;
    p->ckpt_dirty = 1;
    obs_metric_set(p->m_files, (double)p->nfiles);
    return pf;
}

static void file_remove(struct prod *p, struct prod_file *pf) {
    struct prod_file **pp = &p->files[path_hash(pf->path)];
    while (*pp && *pp != pf)
        pp = &(*pp)->next;
    if (*pp) *pp = pf->next;
    p->nfiles--;
    p->ckpt_dirty = 1;
    obs_metric_set(p->m_files, (double)p->nfiles);
    file_free(pf);
}

/* Append a pending entry; returns its sequence number. */
static int q_push(struct prod_file *pf, uint64_t next, int acked, uint64_t *seq) {
    if (pf->qhead > 0 && pf->qhead == pf->qlen) pf->qhead = pf->qlen = 0;
    if (pf->qlen == pf->qcap) {
        if (pf->qhead > pf->qcap / 2) { /* compact instead of growing */
            memmove(pf->q, pf->q + pf->qhead, (pf->qlen - pf->qhead) * sizeof(*pf->q));
            pf->qlen -= pf->qhead;
            pf->qhead = 0;
        } else {
            size_t cap = pf->qcap ? pf->qcap * 2 : 64;
            struct prod_pending *q = realloc(pf->q, cap * sizeof(*q));
            if (!q) return -1;
            pf->q = q;
            pf->qcap = cap;
        }
    }
    pf->q[pf->qlen].next = next;
    pf->q[pf->qlen].acked = acked;
    pf->qlen++;
    *seq = pf->next_seq++;
    return 0;
}

/* Advance acked over the acknowledged prefix of the pending lines. A ring
 * that drained is released when it had grown past Q_KEEP entries: each file
 * once had up to ~max_inflight_bytes of lines pending, and keeping every
 * file's largest ring made the peak RSS grow with the number of files read
 * (ADR 0014). */
#define Q_KEEP 256
static void q_advance(struct prod *p, struct prod_file *pf) {
    while (pf->qhead < pf->qlen && pf->q[pf->qhead].acked) {
        pf->acked = pf->q[pf->qhead].next;
        pf->qhead++;
        pf->qbase++;
        p->ckpt_dirty = 1;
    }
    if (pf->qhead == pf->qlen && pf->qcap > Q_KEEP) {
        free(pf->q);
        pf->q = NULL;
        pf->qhead = pf->qlen = pf->qcap = 0;
    }
}

/* ---- message opaques ----------------------------------------------------------- */

static struct prod_msg *msg_new(struct prod *p) {
    struct prod_msg *m = p->msg_free;
    if (!m) return calloc(1, sizeof(*m));
    p->msg_free = m->free_next;
    p->nmsg_free--;
    memset(m, 0, sizeof(*m));
    return m;
}

static void msg_free(struct prod *p, struct prod_msg *m) {
    if (!m) return;
    if (p->nmsg_free >= MSG_FREE_MAX) {
        free(m);
        return;
    }
    m->free_next = p->msg_free;
    p->msg_free = m;
    p->nmsg_free++;
}

static void msg_free_all(struct prod *p) {
    while (p->msg_free) {
        struct prod_msg *m = p->msg_free;
        p->msg_free = m->free_next;
        free(m);
    }
    p->nmsg_free = 0;
}

/* ---- checkpoint ------------------------------------------------------------------ */

static int ckpt_write(struct prod *p) {
    struct prod_ckpt c = {0};
    char errstr[512];
    int rc = 0;
    for (int b = 0; b < FILE_BUCKETS; b++)
        for (struct prod_file *pf = p->files[b]; pf; pf = pf->next)
            if (pf->fp[0] && prod_ckpt_add(&c, pf->path, pf->dev, pf->ino, pf->fp, pf->acked) < 0) rc = -1;
    if (rc == 0 && prod_ckpt_write(p->ckpt_path, c.items, c.n, errstr, sizeof(errstr)) < 0) {
        obs_error("checkpoint", "%s", errstr);
        rc = -1;
    }
    prod_ckpt_free(&c);
    if (rc == 0) {
        p->ckpt_dirty = 0;
        obs_metric_inc(p->m_ckpt_writes);
    }
    return rc;
}

/* Read a pending SIGTERM/SIGINT from the signalfd (non-blocking). */
static void check_signal(struct prod *p) {
    struct signalfd_siginfo si;
    if (p->sfd >= 0 && read(p->sfd, &si, sizeof(si)) == sizeof(si)) {
        obs_info("loop", "signal %u: stopping", si.ssi_signo);
        atomic_store(&p->stop, 1);
    }
}

/* ---- publishing ------------------------------------------------------------------ */

/* rd_kafka_poll; the delivery reports it serves share one clock reading. */
static int kpoll(struct prod *p, int timeout_ms) {
    p->dr_now = 0;
    p->in_kpoll = 1;
    int n = rd_kafka_poll(p->rk, timeout_ms);
    p->in_kpoll = 0;
    return n;
}

/* Hand one record to librdkafka, polling while its queue is full (never
 * drops). Ownership of m passes to librdkafka on success (freed in
 * on_delivery); on failure it is freed here. Returns 0, or the
 * librdkafka error. */
static rd_kafka_resp_err_t produce(struct prod *p, struct prod_msg *m, const struct obs_event *ev) {
    const void *val;
    size_t vlen;
    char errstr[256];
    int bad = p->enc_ok ? prod_enc_event(&p->enc, ev, &val, &vlen)
                        : obs_codec_encode(p->codec, ev, &val, &vlen, errstr, sizeof(errstr));
    if (bad < 0) {
        obs_error("publish", "%s@%" PRIu64 ": encode: %s", m->pf->path, m->offset,
                  p->enc_ok ? "out of memory" : errstr);
        msg_free(p, m);
        return RD_KAFKA_RESP_ERR__BAD_MSG;
    }
    for (;;) {
        /* The record's timestamp is the read time we already have (librdkafka
         * would read the clock once more per message). */
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(p->rkt), RD_KAFKA_V_KEY(m->pf->session, m->pf->session_len),
            RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP(ev->observed_time_ms), RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            kpoll(p, 50);    /* serve delivery reports, then retry */
            check_signal(p); /* a stop must not wait for a slow broker */
            if (atomic_load(&p->fatal) || atomic_load(&p->stop)) {
                msg_free(p, m);
                return atomic_load(&p->fatal) ? RD_KAFKA_RESP_ERR__FATAL : RD_KAFKA_RESP_ERR__QUEUE_FULL;
            }
            continue;
        }
        if (err) {
            msg_free(p, m);
            return err;
        }
        break;
    }
    m->len = vlen;
    m->pf->inflight++;
    p->inflight++;
    p->inflight_bytes += (long)vlen;
    if (p->inflight_bytes > TRIM_AFTER_BYTES) p->trim_due = 1;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Publish the small record that stands for a line too large to send. */
static rd_kafka_resp_err_t produce_oversize(struct prod *p, struct prod_msg *m) {
    char payload[8192], esc[6000];
    size_t used = 0;
    esc[0] = '\0';
    obs_json_escape_into(esc, sizeof(esc), &used, m->pf->rel, strlen(m->pf->rel));
    int n = snprintf(payload, sizeof(payload),
                     "{\"type\":\"observatory-oversize\",\"source_path\":\"%s\",\"source_offset\":%" PRIu64
                     ",\"bytes\":%" PRIu64 "}",
                     esc, m->offset, m->bytes);
    obs_error("publish",
              "%s: line at offset %" PRIu64 " has %" PRIu64
              " bytes, over the %zu-byte limit: publishing an observatory-oversize record instead",
              m->pf->path, m->offset, m->bytes, p->max_line);
    obs_metric_inc(p->m_oversize);
    p->oversize++;
    m->oversize = 1;
    char eid[PROD_EVENT_ID_LEN];
    prod_event_id(p->cfg.tenant, p->cfg.host, m->pf->rel, m->pf->file_id, (int64_t)m->offset, eid);
    struct obs_event ev = {
        .event_id = eid,
        .tenant = p->cfg.tenant,
        .host = p->cfg.host,
        .user = p->cfg.user,
        .source_path = m->pf->rel,
        .file_id = m->pf->file_id,
        .source_offset = (int64_t)m->offset,
        .session_id = m->pf->session,
        .event_time_ms = OBS_EVENT_TIME_NULL,
        .observed_time_ms = obs_now_ms(),
        .agent = "claude-code",
        .producer_version = OBS_VERSION,
        .payload = payload,
        .payload_len = (size_t)n,
    };
    return produce(p, m, &ev);
}

/* Splitter callback: one complete line of the file being pumped. */
static int on_line(void *ud, const struct prod_line *l) {
    struct prod_file *pf = ((void **)ud)[1];
    struct prod *p = ((void **)ud)[0];
    uint64_t seq;
    int blank = !l->oversize;
    for (size_t i = 0; blank && i < l->len; i++)
        if (l->data[i] != ' ' && l->data[i] != '\t' && l->data[i] != '\r') blank = 0;
    if (q_push(pf, l->next, blank, &seq) < 0) return -1;
    if (blank) { /* nothing to send; it only moves the checkpoint */
        obs_metric_inc(p->m_blank);
        q_advance(p, pf);
        return 0;
    }
    struct prod_msg *m = msg_new(p);
    if (!m) return -1;
    m->pf = pf;
    m->seq = seq;
    m->offset = l->offset;
    m->bytes = l->bytes;
    m->t_read = p->read_mono; /* the lines of one read share its clock readings */
    rd_kafka_resp_err_t err;
    if (l->oversize) {
        err = produce_oversize(p, m);
    } else {
        char eid[PROD_EVENT_ID_LEN];
        if (p->eid_pf != pf || prod_eid_line(p->eid, (int64_t)l->offset, eid) < 0)
            prod_event_id(p->cfg.tenant, p->cfg.host, pf->rel, pf->file_id, (int64_t)l->offset, eid);
        struct obs_event ev = {
            .event_id = eid,
            .tenant = p->cfg.tenant,
            .host = p->cfg.host,
            .user = p->cfg.user,
            .source_path = pf->rel,
            .file_id = pf->file_id,
            .source_offset = (int64_t)l->offset,
            .session_id = pf->session,
            .event_time_ms = OBS_EVENT_TIME_NULL,
            .observed_time_ms = p->read_wall_ms,
            .agent = "claude-code",
            .producer_version = OBS_VERSION,
            .payload = l->data,
            .payload_len = l->len,
        };
        if (p->redact) { /* secrets never leave the machine */
            const char *red;
            int nr = prod_redact_line(p->redact, l->data, l->len, &red, &ev.payload_len);
            ev.payload = red;
            if (nr < 0) {
                msg_free(p, m);
                return -1;
            }
            ev.redactions = nr;
        }
        err = produce(p, m, &ev);
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) { /* envelope pushed it over */
            m = msg_new(p);
            if (!m) return -1;
            *m = (struct prod_msg){
                .pf = pf, .seq = seq, .offset = l->offset, .bytes = l->bytes, .t_read = obs_mono_s()};
            err = produce_oversize(p, m);
        }
    }
    if (err) {
        if (!atomic_load(&p->stop)) { /* stopping: the line is simply re-read next time */
            obs_error("publish", "%s@%" PRIu64 ": %s", pf->path, l->offset, rd_kafka_err2str(err));
            obs_metric_inc(p->m_errors);
        }
        return -1;
    }
    p->lines++; /* the metrics get these once per file_pump */
    p->bytes += l->bytes + 1;
    return 0;
}

/* Delivery report; runs on the main thread inside rd_kafka_poll/flush. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque) {
    struct prod *p = opaque;
    struct prod_msg *m = rkm->_private;
    struct prod_file *pf = m->pf;
    pf->inflight--;
    p->inflight--;
    p->inflight_bytes -= (long)m->len;
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        size_t idx = pf->qhead + (size_t)(m->seq - pf->qbase);
        if (m->seq >= pf->qbase && idx < pf->qlen) {
            pf->q[idx].acked = 1;
            q_advance(p, pf);
        }
        double now = p->in_kpoll && p->dr_now > 0 ? p->dr_now : obs_mono_s();
        if (p->in_kpoll) p->dr_now = now; /* the reports of one poll are served together */
        obs_metric_observe(p->m_latency, now - m->t_read);
        atomic_store(&p->ready, 1);
        msg_free(p, m);
        return;
    }
    if (rkm->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && !m->oversize &&
        !atomic_load(&p->stop)) { /* the broker's limit is lower than ours */
        m->t_read = obs_mono_s();
        if (produce_oversize(p, m) == 0) return;
        m = NULL;
    }
    obs_metric_inc(p->m_errors);
    p->delivery_failures++;
    obs_error("delivery", "%s@%" PRIu64 ": %s%s", pf->path, m ? m->offset : 0, rd_kafka_err2str(rkm->err),
              p->once ? "" : " (will re-read from the last acknowledged offset)");
    if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        obs_error("kafka", "fatal: %s", why);
        atomic_store(&p->fatal, 1);
    }
    if (!p->once) pf->rewind = 1;
    msg_free(p, m);
}

/* librdkafka error callback (main thread, from rd_kafka_poll). */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    struct prod *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        obs_error("kafka", "fatal error, stopping: %s", why);
        atomic_store(&p->fatal, 1);
        return;
    }
    obs_warn("kafka", "%s: %s", rd_kafka_err2name(err), reason);
}

/* ---- reading --------------------------------------------------------------------- */

/* Read what is new in pf (at most budget bytes) and publish its complete
 * lines. Detects deletion, truncation and replacement first. */
static void file_pump(struct prod *p, struct prod_file *pf, size_t budget) {
    if (pf->rewind) {
        if (pf->inflight > 0) return; /* wait until every report is in */
        obs_warn("file", "%s: re-reading from acknowledged offset %" PRIu64, pf->path, pf->acked);
        file_restart(pf, pf->acked);
    }
    pf->dirty = 0;
    int fd = open(pf->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            pf->gone = 1;
        else
            obs_warn("file", "%s: %s", pf->path, strerror(errno));
        return;
    }
    struct stat st;
    char head[PROD_FP_MAX];
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) goto out;
    ssize_t hn = pread(fd, head, sizeof(head), 0);
    if (hn < 0) goto out;
    char fp[PROD_FP_LEN] = "";
    size_t span = prod_fp_span(head, (size_t)hn, (uint64_t)st.st_size);
    if (span) prod_fingerprint(head, span, fp);
    pf->size = (uint64_t)st.st_size;
    if (pf->fp[0] || pf->read_off > 0) {
        enum prod_file_change ch =
            prod_file_compare(pf->dev, pf->ino, pf->fp, pf->read_off, (uint64_t)st.st_dev,
                              (uint64_t)st.st_ino, fp, (uint64_t)st.st_size);
        if (ch != PROD_FILE_SAME) {
            if (pf->inflight > 0) { /* let the old file's reports land first */
                pf->dirty = 1;
                goto out;
            }
            obs_warn("file",
                     "%s: %s (was %" PRIu64 ":%" PRIu64 ":%s at offset %" PRIu64 ", now %" PRIu64 ":%" PRIu64
                     ":%s, %" PRIu64 " bytes): reading it again from offset 0",
                     pf->path, prod_file_change_name(ch), pf->dev, pf->ino, pf->fp[0] ? pf->fp : "-",
                     pf->read_off, (uint64_t)st.st_dev, (uint64_t)st.st_ino, fp[0] ? fp : "-",
                     (uint64_t)st.st_size);
            obs_metric_inc(ch == PROD_FILE_TRUNCATED ? p->m_truncated : p->m_replaced);
            pf->fp[0] = '\0';
            file_restart(pf, 0);
            p->ckpt_dirty = 1;
        }
    }
    pf->dev = (uint64_t)st.st_dev;
    pf->ino = (uint64_t)st.st_ino;
    if (!pf->fp[0]) {
        if (!fp[0]) goto out; /* no complete line yet */
        obs_strlcpy(pf->fp, fp, sizeof(pf->fp));
        file_set_id(pf);
    }
    static char buf[READ_CHUNK];
    void *ud[2] = {p, pf};
    p->eid_pf =
        p->eid && prod_eid_prefix(p->eid, p->cfg.tenant, p->cfg.host, pf->rel, pf->file_id) == 0 ? pf : NULL;
    size_t done = 0;
    uint64_t lines0 = p->lines, bytes0 = p->bytes;
    while (pf->read_off < pf->size && done < budget && p->inflight_bytes < p->cfg.max_inflight_bytes &&
           !atomic_load(&p->stop) && !atomic_load(&p->fatal)) {
        size_t want = pf->size - pf->read_off < sizeof(buf) ? (size_t)(pf->size - pf->read_off) : sizeof(buf);
        ssize_t n = pread(fd, buf, want, (off_t)pf->read_off);
        if (n <= 0) break;
        p->read_mono = obs_mono_s();
        p->read_wall_ms = obs_now_ms();
        pf->read_off += (uint64_t)n;
        done += (size_t)n;
        if (prod_splitter_feed(&pf->sp, buf, (size_t)n, on_line, ud) < 0) {
            pf->rewind = 1; /* publishing failed mid-chunk: start over from acked */
            break;
        }
    }
    obs_metric_add(p->m_lines, p->lines - lines0);
    obs_metric_add(p->m_bytes, p->bytes - bytes0);
    if (pf->read_off < pf->size) pf->dirty = 1;
    if (pf->sp.len == 0) prod_splitter_free(&pf->sp); /* no partial line: no carry kept per idle file */
    p->eid_pf = NULL;
out:
    close(fd);
}

/* ---- discovery ------------------------------------------------------------------- */

static int want_file(struct prod *p, const char *rel) {
    return prod_glob_match_list(p->cfg.include, rel) && !prod_glob_match_list(p->cfg.exclude, rel);
}

/* A matching regular file exists at path: follow it, mark it to be read. */
static void file_seen(struct prod *p, const char *path, const char *rel, const struct stat *st) {
    struct prod_file *pf = file_find(p, path);
    if (!pf && !(pf = file_add(p, path, rel))) {
        obs_error("file", "%s: out of memory", path);
        return;
    }
    pf->scan_gen = p->scan_gen;
    pf->gone = 0;
    if ((uint64_t)st->st_size != pf->read_off || (uint64_t)st->st_ino != pf->ino || !pf->fp[0]) pf->dirty = 1;
    pf->size = (uint64_t)st->st_size;
}

static void watch_add(struct prod *p, int root, const char *dir) {
    if (p->ifd < 0) return;
    int wd = inotify_add_watch(p->ifd, dir,
                               IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                                   IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    if (wd < 0) {
        static int warned;
        if (!warned++)
            obs_warn("watch", "%s: inotify: %s (the periodic rescan still finds changes)", dir,
                     strerror(errno));
        return;
    }
    for (size_t i = 0; i < p->nwatches; i++)
        if (p->watches[i].wd == wd) {
            if (strcmp(p->watches[i].path, dir) != 0) {
                free(p->watches[i].path);
                p->watches[i].path = strdup(dir);
            }
            return;
        }
    if (p->nwatches == p->capwatches) {
        size_t cap = p->capwatches ? p->capwatches * 2 : 64;
        struct prod_watch *w = realloc(p->watches, cap * sizeof(*w));
        if (!w) return;
        p->watches = w;
        p->capwatches = cap;
    }
    p->watches[p->nwatches++] = (struct prod_watch){.wd = wd, .root = root, .path = strdup(dir)};
}

/* Walk dir (under root) recursively: watch every directory, see every file. */
static void scan_dir(struct prod *p, int root, const char *dir, int depth) {
    if (depth > 64) return;
    DIR *d = opendir(dir);
    if (!d) {
        if (depth == 0 && errno == ENOENT)
            obs_debug("watch", "%s does not exist (yet)", dir);
        else if (errno != ENOENT)
            obs_warn("watch", "%s: %s", dir, strerror(errno));
        return;
    }
    watch_add(p, root, dir);
    size_t rootlen = strlen(p->roots[root]);
    struct dirent *de;
    char path[PATH_MAX];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]))) continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path)) continue;
        struct stat st;
        if (lstat(path, &st) < 0) continue;
        if (S_ISDIR(st.st_mode))
            scan_dir(p, root, path, depth + 1);
        else if (S_ISREG(st.st_mode) && want_file(p, path + rootlen + 1))
            file_seen(p, path, path + rootlen + 1, &st);
    }
    closedir(d);
}

static void rescan(struct prod *p) {
    p->scan_gen++;
    for (int r = 0; r < p->nroots; r++)
        scan_dir(p, r, p->roots[r], 0);
    for (int b = 0; b < FILE_BUCKETS; b++) /* not seen: check whether it is gone */
        for (struct prod_file *pf = p->files[b]; pf; pf = pf->next)
            if (pf->scan_gen != p->scan_gen) {
                struct stat st;
                if (lstat(pf->path, &st) < 0 && errno == ENOENT) pf->gone = 1;
            }
}

static void on_inotify(struct prod *p) {
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(p->ifd, buf, sizeof(buf));
        if (n <= 0) return;
        for (char *c = buf; c < buf + n;) {
            struct inotify_event *ie = (struct inotify_event *)c;
            c += sizeof(*ie) + ie->len;
            if (ie->mask & IN_Q_OVERFLOW) {
                obs_warn("watch", "inotify queue overflowed: rescanning");
                rescan(p);
                continue;
            }
            struct prod_watch *w = NULL;
            for (size_t i = 0; i < p->nwatches; i++)
                if (p->watches[i].wd == ie->wd) w = &p->watches[i];
            if (!w) continue;
            if (ie->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                if (ie->mask & IN_IGNORED) { /* the watch is gone */
                    free(w->path);
                    *w = p->watches[--p->nwatches];
                }
                continue;
            }
            if (!ie->len) continue;
            char path[PATH_MAX];
            if ((size_t)snprintf(path, sizeof(path), "%s/%s", w->path, ie->name) >= sizeof(path)) continue;
            if (ie->mask & (IN_DELETE | IN_MOVED_FROM)) {
                struct prod_file *pf = file_find(p, path);
                if (pf) pf->dirty = 1; /* file_pump notices it is gone */
                continue;
            }
            struct stat st;
            if (lstat(path, &st) < 0) continue;
            const char *rel = path + strlen(p->roots[w->root]) + 1;
            if (S_ISDIR(st.st_mode))
                scan_dir(p, w->root, path, 1);
            else if (S_ISREG(st.st_mode) && want_file(p, rel))
                file_seen(p, path, rel, &st);
        }
    }
}

/* ---- readiness ------------------------------------------------------------------ */

/* Probe thread: one metadata request for the topic until it succeeds. */
static void *meta_probe(void *arg) {
    struct prod *p = arg;
    while (!atomic_load(&p->stop) && !atomic_load(&p->ready)) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(p->rk, 0, p->rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && md->topics[0].err)
                obs_warn("kafka", "topic %s: %s", p->cfg.topic, rd_kafka_err2str(md->topics[0].err));
            else
                atomic_store(&p->ready, 1);
            rd_kafka_metadata_destroy(md);
        }
        for (int i = 0; i < 10 && !atomic_load(&p->stop) && !atomic_load(&p->ready); i++)
            usleep(100000);
    }
    return NULL;
}

/* Runs on the admin thread: reads atomics only. */
static int ready_cb(void *ud, char *why, size_t whylen) {
    struct prod *p = ud;
    if (atomic_load(&p->fatal)) {
        snprintf(why, whylen, "kafka fatal error");
        return 0;
    }
    if (!atomic_load(&p->ready)) {
        snprintf(why, whylen, "no metadata from kafka yet");
        return 0;
    }
    return 1;
}

/* ---- the loop ------------------------------------------------------------------- */

static void update_gauges(struct prod *p, uint64_t *total, uint64_t *done) {
    uint64_t t = 0, d = 0;
    for (int b = 0; b < FILE_BUCKETS; b++)
        for (struct prod_file *pf = p->files[b]; pf; pf = pf->next) {
            t += pf->size;
            d += pf->acked < pf->size ? pf->acked : pf->size;
        }
    obs_metric_set(p->m_queue, (double)p->inflight);
    obs_metric_set(p->m_behind, (double)(t - d));
    obs_metric_set(p->m_files, (double)p->nfiles);
    if (total) *total = t;
    if (done) *done = d;
}

/* Drop files that are gone and fully reported; re-read rewound ones. */
static void housekeeping(struct prod *p) {
    for (int b = 0; b < FILE_BUCKETS; b++) {
        struct prod_file *pf = p->files[b];
        while (pf) {
            struct prod_file *next = pf->next;
            if (pf->gone && pf->inflight == 0) {
                obs_info("file", "%s: deleted; forgetting it", pf->path);
                file_remove(p, pf);
            } else if (pf->rewind && pf->inflight == 0) {
                pf->dirty = 1;
            }
            pf = next;
        }
    }
}

/* Pump every dirty file once; returns 1 if any still has work. */
static int pump_all(struct prod *p) {
    int more = 0;
    for (int b = 0; b < FILE_BUCKETS; b++)
        for (struct prod_file *pf = p->files[b]; pf; pf = pf->next) {
            if (p->inflight_bytes >= p->cfg.max_inflight_bytes || atomic_load(&p->stop) ||
                atomic_load(&p->fatal))
                return 1;
            if (pf->dirty && !pf->gone) file_pump(p, pf, PUMP_BUDGET);
            if (pf->dirty && !pf->gone) more = 1;
        }
    return more;
}

static void drain_pipe(int fd) {
    char b[256];
    while (read(fd, b, sizeof(b)) > 0) {}
}

static int run(struct prod *p) {
    double start = obs_mono_s();
    double next_rescan = start + p->cfg.rescan_ms / 1000.0;
    double next_ckpt = start, next_progress = start + p->cfg.progress_ms / 1000.0;
    uint64_t prev_done = 0;
    update_gauges(p, NULL, &prev_done);
    double prev_t = start;
    rescan(p);
    while (!atomic_load(&p->stop) && !atomic_load(&p->fatal)) {
        kpoll(p, 0);
        housekeeping(p);
        int more = pump_all(p);
        kpoll(p, 0);
        double now = obs_mono_s();
        if (now >= next_ckpt) {
            if (p->ckpt_dirty) (void)ckpt_write(p);
            if (p->trim_due && p->inflight == 0) { /* a backlog is done: give its memory back */
                msg_free_all(p);                   /* scattered over the heap, they would pin its pages */
                malloc_trim(0);
                p->trim_due = 0;
            }
            update_gauges(p, NULL, NULL);
            next_ckpt = now + p->cfg.ckpt_interval_ms / 1000.0;
        }
        if (now >= next_progress) {
            uint64_t total, done;
            update_gauges(p, &total, &done);
            if (total - done > 1024 * 1024) {
                double rate = (double)(done - (done > prev_done ? prev_done : done)) / (now - prev_t) / 1e6;
                double eta = rate > 0 ? (double)(total - done) / 1e6 / rate : -1;
                obs_info("progress", "files=%ld done=%.1f MB of %.1f MB rate=%.2f MB/s eta=%.0f s", p->nfiles,
                         done / 1e6, total / 1e6, rate, eta);
            }
            prev_done = done;
            prev_t = now;
            next_progress = now + p->cfg.progress_ms / 1000.0;
        }
        if (!p->once && now >= next_rescan) {
            rescan(p);
            next_rescan = now + p->cfg.rescan_ms / 1000.0;
        }
        if (p->once && !more && p->inflight == 0) {
            int busy = 0;
            for (int b = 0; b < FILE_BUCKETS && !busy; b++)
                for (struct prod_file *pf = p->files[b]; pf && !busy; pf = pf->next)
                    busy = (pf->dirty || pf->rewind) && !pf->gone;
            if (!busy) break;
        }
        int timeout;
        if (more && p->inflight_bytes < p->cfg.max_inflight_bytes)
            timeout = 0;
        else {
            double next = next_ckpt < next_progress ? next_ckpt : next_progress;
            if (!p->once && next_rescan < next) next = next_rescan;
            timeout = (int)((next - obs_mono_s()) * 1000) + 1;
            if (timeout < 0) timeout = 0;
            if (timeout > 1000) timeout = 1000;
        }
        struct pollfd fds[3] = {{.fd = p->sfd, .events = POLLIN},
                                {.fd = p->kpipe[0], .events = POLLIN},
                                {.fd = p->ifd, .events = POLLIN}};
        int n = poll(fds, p->ifd >= 0 ? 3 : 2, timeout);
        if (n < 0 && errno != EINTR) {
            obs_error("loop", "poll: %s", strerror(errno));
            break;
        }
        if (n <= 0) continue;
        if (fds[0].revents & POLLIN) check_signal(p);
        if (fds[1].revents & POLLIN) drain_pipe(p->kpipe[0]);
        if (p->ifd >= 0 && (fds[2].revents & POLLIN)) on_inotify(p);
    }
    return 0;
}

/* ---- start-up and shutdown ------------------------------------------------------- */

static void usage(FILE *out) {
    fprintf(out, "usage: " PROG " [-c FILE] [--once]\n"
                 "       " PROG " --help | --version\n\n"
                 "Follows Claude Code transcripts (*.jsonl) under the watch roots and publishes\n"
                 "every complete line to Kafka, keyed by session id. The checkpoint advances only\n"
                 "on delivery reports; a restart resumes exactly there.\n\n"
                 "  -c, --config FILE  settings file (key = value lines)\n"
                 "      --once         publish everything present, wait for every ack, write the\n"
                 "                     checkpoint, print a summary and exit\n"
                 "  -h, --help         this text\n"
                 "  -V, --version      print the version\n\n"
                 "Settings (file key, environment variable, default):\n");
    obs_config_usage(out, prod_opts);
}

static int setup_kafka(struct prod *p, char *errstr, size_t errlen) {
    rd_kafka_conf_t *conf = obs_kafka_conf_new(p->cfg.bootstrap, PROG, NULL, errstr, errlen);
    char num[32];
    if (!conf) return -1;
    snprintf(num, sizeof(num), "%ld", p->cfg.linger_ms);
    if (obs_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errlen) < 0 ||
        obs_kafka_conf_set(conf, "acks", "all", errstr, errlen) < 0 ||
        obs_kafka_conf_set(conf, "linger.ms", num, errstr, errlen) < 0 ||
        obs_kafka_conf_set(conf, "compression.codec", p->cfg.compression, errstr, errlen) < 0)
        goto err;
    snprintf(num, sizeof(num), "%ld", p->cfg.message_max_bytes);
    if (obs_kafka_conf_set(conf, "message.max.bytes", num, errstr, errlen) < 0) goto err;
    /* Pass-through last so an operator can override anything above. */
    for (size_t i = 0; i < p->kv.n; i++)
        if (obs_kafka_conf_set(conf, p->kv.items[i].key, p->kv.items[i].value, errstr, errlen) < 0) goto err;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    char e[256];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!p->rk) {
        snprintf(errstr, errlen, "kafka: %s", e);
        goto err;
    }
    conf = NULL; /* owned by rk now */
    p->rkt = rd_kafka_topic_new(p->rk, p->cfg.topic, NULL);
    if (pipe2(p->kpipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(errstr, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    rd_kafka_queue_t *mq = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(mq, p->kpipe[1], "1", 1);
    rd_kafka_queue_destroy(mq);
    return 0;
err:
    if (conf) rd_kafka_conf_destroy(conf);
    return -1;
}

/* Free everything; accepts a half-built p. */
static void prod_destroy(struct prod *p) {
    if (p->meta_started) pthread_join(p->meta_thread, NULL);
    prod_redact_destroy(p->redact);
    prod_eid_free(p->eid);
    obs_admin_stop(p->admin);
    if (p->rk) {
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0); /* frees the purged messages' opaques */
        if (p->rkt) rd_kafka_topic_destroy(p->rkt);
        rd_kafka_destroy(p->rk);
    }
    if (p->kpipe[0] > 0) close(p->kpipe[0]);
    if (p->kpipe[1] > 0) close(p->kpipe[1]);
    if (p->ifd >= 0) close(p->ifd);
    if (p->sfd >= 0) close(p->sfd);
    for (int b = 0; b < FILE_BUCKETS; b++)
        while (p->files[b]) {
            struct prod_file *pf = p->files[b];
            p->files[b] = pf->next;
            file_free(pf);
        }
    for (size_t i = 0; i < p->nwatches; i++)
        free(p->watches[i].path);
    free(p->watches);
    for (int i = 0; i < p->nroots; i++)
        free(p->roots[i]);
    prod_ckpt_free(&p->loaded);
    obs_codec_destroy(p->codec);
    prod_enc_free(&p->enc);
    obs_config_free(prod_opts, &p->cfg, &p->kv);
    msg_free_all(p);
}

/* Fill host/user defaults, expand paths, split roots. Errors printed; count returned. */
static int finish_config(struct prod *p) {
    int bad = 0;
    if (obs_log_set_level_name(p->cfg.log_level) < 0) {
        fprintf(stderr, PROG ": config: log.level: unknown level '%s' (debug|info|warn|error)\n",
                p->cfg.log_level);
        bad++;
    }
    if (!p->cfg.host || !*p->cfg.host) {
        char h[256] = "unknown";
        gethostname(h, sizeof(h) - 1);
        free(p->cfg.host);
        p->cfg.host = strdup(h);
    }
    if (!p->cfg.user || !*p->cfg.user) {
        struct passwd *pw = getpwuid(getuid());
        const char *u = pw ? pw->pw_name : getenv("USER");
        free(p->cfg.user);
        p->cfg.user = strdup(u ? u : "unknown");
    }
    if (!*p->cfg.tenant) fprintf(stderr, PROG ": config: tenant: must not be empty\n"), bad++;
    if (!*p->cfg.topic) fprintf(stderr, PROG ": config: kafka.topic: must not be empty\n"), bad++;
    if (!*p->cfg.include) fprintf(stderr, PROG ": config: watch.include: must not be empty\n"), bad++;
    static const char *codecs[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
    int ok = 0;
    for (int i = 0; codecs[i]; i++)
        ok |= strcmp(codecs[i], p->cfg.compression) == 0;
    if (!ok)
        fprintf(stderr, PROG ": config: kafka.compression: '%s' is not none|gzip|snappy|lz4|zstd\n",
                p->cfg.compression),
            bad++;
    char *roots = strdup(p->cfg.roots), *save = NULL;
    for (char *r = strtok_r(roots, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        while (*r == ' ')
            r++;
        size_t l = strlen(r);
        while (l > 0 && (r[l - 1] == ' ' || r[l - 1] == '/'))
            r[--l] = '\0';
        if (!l) continue;
        char path[PATH_MAX];
        if (p->nroots == MAX_ROOTS || prod_expand_home(r, path, sizeof(path)) < 0) {
            fprintf(stderr, PROG ": config: watch.roots: too many roots or path too long: %s\n", r);
            bad++;
            continue;
        }
        p->roots[p->nroots++] = strdup(path);
    }
    free(roots);
    if (p->nroots == 0) fprintf(stderr, PROG ": config: watch.roots: no directory given\n"), bad++;
    if (prod_expand_home(p->cfg.ckpt_path, p->ckpt_path, sizeof(p->ckpt_path)) < 0 || !*p->ckpt_path) {
        fprintf(stderr, PROG ": config: checkpoint.path: empty or too long\n");
        bad++;
    }
    p->max_line = (size_t)p->cfg.message_max_bytes - ENVELOPE_MARGIN;
    return bad;
}

static void register_metrics(struct prod *p) {
    p->m_lines = obs_metrics_counter("observatory_producer_lines_total", NULL, "lines published");
    p->m_bytes = obs_metrics_counter("observatory_producer_bytes_total", NULL, "bytes of lines published");
    p->m_errors = obs_metrics_counter("observatory_producer_delivery_errors_total", NULL,
                                      "records Kafka did not acknowledge (re-read later)");
    p->m_latency = obs_metrics_histogram("observatory_producer_delivery_latency_seconds", NULL,
                                         "from reading a line to its acknowledgement", obs_latency_buckets,
                                         obs_latency_nbuckets);
    p->m_queue =
        obs_metrics_gauge("observatory_producer_queue_depth", NULL, "records waiting for acknowledgement");
    p->m_files = obs_metrics_gauge("observatory_producer_files_tracked", NULL, "files followed");
    p->m_behind = obs_metrics_gauge("observatory_producer_bytes_behind", NULL,
                                    "sum over files of size minus acknowledged offset");
    p->m_oversize = obs_metrics_counter("observatory_producer_oversize_lines_total", NULL,
                                        "lines over the message limit, replaced by an oversize record");
    p->m_blank = obs_metrics_counter("observatory_producer_blank_lines_total", NULL, "empty lines skipped");
    p->m_ckpt_writes =
        obs_metrics_counter("observatory_producer_checkpoint_writes_total", NULL, "checkpoint files written");
    p->m_truncated = obs_metrics_counter("observatory_producer_files_truncated_total", NULL,
                                         "files found shorter than their offset (re-read from 0)");
    p->m_replaced = obs_metrics_counter("observatory_producer_files_replaced_total", NULL,
                                        "files replaced at the same path (read from 0)");
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"once", no_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    static struct prod prod; /* large (file hash); static keeps it off the stack */
    struct prod *p = &prod;
    const char *cfg_path = NULL;
    int c, rc = 0;
    obs_log_init(PROG);
    p->ifd = p->sfd = -1;
    while ((c = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'o':
            p->once = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf(PROG " %s\n", OBS_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s' (try --help)\n", argv[optind]);
        return 2;
    }
    if (obs_config_load(prod_opts, &p->cfg, cfg_path, &p->kv, PROG) != 0 || finish_config(p) != 0) {
        fprintf(stderr, PROG ": configuration is invalid (see the lines above)\n");
        prod_destroy(p);
        return 2;
    }
    char errstr[512];
    if ((p->cfg.redact_enabled || p->cfg.redact_metadata) &&
        !(p->redact = prod_redact_create(p->cfg.redact_enabled, p->cfg.redact_metadata, p->cfg.redact_rules,
                                         errstr, sizeof(errstr)))) {
        fprintf(stderr, PROG ": config: redact.rules: %s\n", errstr);
        prod_destroy(p);
        return 2;
    }
    register_metrics(p);
    /* Signals become a descriptor; block them before any thread starts. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    p->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (prod_ckpt_read(p->ckpt_path, &p->loaded, errstr, sizeof(errstr)) < 0) {
        obs_error("checkpoint", "%s (fix or remove it; refusing to guess offsets)", errstr);
        rc = 1;
        goto done;
    }
    p->eid = prod_eid_new(); /* NULL: every line takes prod_event_id's slower path */
    if (!(p->codec = obs_codec_create(errstr, sizeof(errstr))) ||
        setup_kafka(p, errstr, sizeof(errstr)) < 0) {
        obs_error("start", "%s", errstr);
        rc = 1;
        goto done;
    }
    prod_enc_init(&p->enc, obs_codec_fingerprint(p->codec));
    p->enc_ok = prod_enc_selfcheck(&p->enc, p->codec);
    if (!p->enc_ok) obs_warn("start", "direct Avro encoder disagrees with the schema: using avro-c (slower)");
    if (!p->once) {
        p->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (p->ifd < 0) obs_warn("watch", "inotify: %s (relying on the rescan)", strerror(errno));
    }
    p->admin = obs_admin_start(p->cfg.admin_listen, ready_cb, p, errstr, sizeof(errstr));
    if (!p->admin && strcmp(p->cfg.admin_listen, "") != 0 && strcmp(p->cfg.admin_listen, "off") != 0) {
        obs_error("start", "admin.listen %s: %s", p->cfg.admin_listen, errstr);
        rc = 1;
        goto done;
    }
    if (pthread_create(&p->meta_thread, NULL, meta_probe, p) == 0) p->meta_started = 1;
    obs_info("start", "version %s, %d root(s) starting with %s, topic %s, checkpoint %s (%zu files known)",
             OBS_VERSION, p->nroots, p->roots[0], p->cfg.topic, p->ckpt_path, p->loaded.n);
    double t0 = obs_mono_s();
    run(p);
    /* Stop reading; wait (bounded) for what is in flight, then checkpoint. */
    atomic_store(&p->stop, 1);
    if (p->inflight > 0 && !atomic_load(&p->fatal)) {
        obs_info("stop", "flushing %ld record(s), at most %ld ms", p->inflight, p->cfg.flush_timeout_ms);
        rd_kafka_flush(p->rk, (int)p->cfg.flush_timeout_ms);
    }
    rd_kafka_poll(p->rk, 0);
    if (p->inflight > 0)
        obs_warn("stop", "%ld record(s) not acknowledged; they will be re-read from the checkpoint",
                 p->inflight);
    if (ckpt_write(p) < 0) rc = 1;
    if (atomic_load(&p->fatal)) rc = 1;
    if (p->once) {
        if (p->delivery_failures > 0) rc = 1;
        fprintf(stderr,
                "summary: files=%ld lines=%" PRIu64 " bytes=%" PRIu64 " oversize=%" PRIu64
                " delivery_errors=%ld seconds=%.2f\n",
                p->nfiles, p->lines, p->bytes, p->oversize, p->delivery_failures, obs_mono_s() - t0);
    }
    obs_info("stop", "done: %" PRIu64 " lines, %" PRIu64 " bytes published", p->lines, p->bytes);
done:
    prod_destroy(p);
    obs_metrics_shutdown();
    return rc;
}
