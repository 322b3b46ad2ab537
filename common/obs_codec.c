/* obs_codec.c - SessionEvent Avro single-object codec, see obs_codec.h. */
#include "obs_codec.h"

#include <avro.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AVRO_EMPTY_FP 0xc15d213aa4d7a795ULL
#define MAX_SCHEMAS 16

enum {
    F_EVENT_ID,
    F_TENANT,
    F_HOST,
    F_USER,
    F_SOURCE_PATH,
    F_FILE_ID,
    F_SOURCE_OFFSET,
    F_SESSION_ID,
    F_EVENT_TIME,
    F_OBSERVED_TIME,
    F_AGENT,
    F_AGENT_VERSION,
    F_PRODUCER_VERSION,
    F_REDACTIONS,
    F_PAYLOAD,
    F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "event_id",         "tenant",     "host",       "user",          "source_path", "file_id",
    "source_offset",    "session_id", "event_time", "observed_time", "agent",       "agent_version",
    "producer_version", "redactions", "payload"};

/* A writer schema the decoder accepts, keyed by fingerprint. */
struct codec_writer {
    uint64_t fp;                  /* CRC-64-AVRO of its canonical form */
    avro_schema_t schema;         /* parsed writer schema */
    avro_value_iface_t *resolver; /* resolved writer → current, NULL for current */
    avro_value_t resolved;        /* resolver value wrapping c->value */
    int has_resolved;             /* resolved is initialised */
};

struct obs_codec {
    avro_schema_t schema;                     /* current (reader and writer) schema */
    avro_value_iface_t *iface;                /* generic class of schema */
    avro_value_t value;                       /* reusable record value */
    int has_value;                            /* value is initialised */
    size_t idx[F_COUNT];                      /* field indexes in schema */
    uint64_t fp;                              /* fingerprint of schema */
    struct codec_writer writers[MAX_SCHEMAS]; /* every known writer schema */
    size_t nwriters;                          /* entries in writers */
    char *outbuf;                             /* encode buffer */
    size_t outcap;                            /* its capacity */
    avro_writer_t writer;                     /* memory writer over outbuf */
    avro_reader_t reader;                     /* memory reader for decode */
};

/* ---- CRC-64-AVRO and Parsing Canonical Form ---------------------------- */

uint64_t obs_avro_crc64(const void *data, size_t len) {
    static uint64_t table[256];
    static int init;
    if (!init) { /* benign race: every thread computes the same table */
        for (int i = 0; i < 256; i++) {
            uint64_t fp = (uint64_t)i;
            for (int j = 0; j < 8; j++)
                fp = (fp >> 1) ^ (AVRO_EMPTY_FP & -(fp & 1));
            table[i] = fp;
        }
        init = 1;
    }
    const unsigned char *p = data;
    uint64_t fp = AVRO_EMPTY_FP;
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ table[(fp ^ p[i]) & 0xff];
    return fp;
}

struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 256) + n;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}
static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_jstr(struct sbuf *b, const char *s) {
    json_t *j = json_string(s);
    char *d = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (d)
        sb_str(b, d);
    else
        b->oom = 1;
    free(d);
    json_decref(j);
}

static const char *const primitives[] = {"null",   "boolean", "int",    "long", "float",
                                         "double", "bytes",   "string", NULL};
static int is_primitive(const char *t) {
    for (int i = 0; primitives[i]; i++)
        if (strcmp(t, primitives[i]) == 0) return 1;
    return 0;
}

static void full_name(const char *name, const char *ns, char *out, size_t len) {
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(out, len, "%s", name);
    else
        snprintf(out, len, "%s.%s", ns, name);
}

static int pcf(struct sbuf *b, json_t *s, const char *ns, char *err, size_t errlen);

static int pcf(struct sbuf *b, json_t *s, const char *ns, char *err, size_t errlen) {
    if (json_is_string(s)) {
        const char *t = json_string_value(s);
        char fn[512];
        if (is_primitive(t))
            sb_jstr(b, t);
        else {
            full_name(t, ns, fn, sizeof(fn));
            sb_jstr(b, fn);
        }
        return 0;
    }
    if (json_is_array(s)) {
        sb_str(b, "[");
        for (size_t i = 0; i < json_array_size(s); i++) {
            if (i) sb_str(b, ",");
            if (pcf(b, json_array_get(s, i), ns, err, errlen) < 0) return -1;
        }
        sb_str(b, "]");
        return 0;
    }
    if (!json_is_object(s)) {
        snprintf(err, errlen, "schema: unexpected JSON value");
        return -1;
    }
    const char *type = json_string_value(json_object_get(s, "type"));
    if (!type) { /* {"type": {...}} nests a schema */
        json_t *t = json_object_get(s, "type");
        if (t) return pcf(b, t, ns, err, errlen);
        snprintf(err, errlen, "schema: object without type");
        return -1;
    }
    if (is_primitive(type)) {
        sb_jstr(b, type);
        return 0;
    }
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *nns = json_string_value(json_object_get(s, "namespace"));
    char fn[512] = "";
    if (name) {
        full_name(name, nns ? nns : ns, fn, sizeof(fn));
        char *dot = strrchr(fn, '.');
        static char nsbuf[512];
        if (dot) {
            snprintf(nsbuf, sizeof(nsbuf), "%.*s", (int)(dot - fn), fn);
            ns = nsbuf;
        }
    }
    char nsk[512];
    snprintf(nsk, sizeof(nsk), "%s", ns ? ns : "");
    sb_str(b, "{");
    if (name) {
        sb_str(b, "\"name\":");
        sb_jstr(b, fn);
        sb_str(b, ",");
    }
    sb_str(b, "\"type\":");
    sb_jstr(b, type);
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        sb_str(b, ",\"fields\":[");
        json_t *fields = json_object_get(s, "fields");
        for (size_t i = 0; i < json_array_size(fields); i++) {
            json_t *f = json_array_get(fields, i);
            if (i) sb_str(b, ",");
            sb_str(b, "{\"name\":");
            sb_jstr(b, json_string_value(json_object_get(f, "name")));
            sb_str(b, ",\"type\":");
            if (pcf(b, json_object_get(f, "type"), nsk, err, errlen) < 0) return -1;
            sb_str(b, "}");
        }
        sb_str(b, "]");
    } else if (strcmp(type, "enum") == 0) {
        sb_str(b, ",\"symbols\":[");
        json_t *sy = json_object_get(s, "symbols");
        for (size_t i = 0; i < json_array_size(sy); i++) {
            if (i) sb_str(b, ",");
            sb_jstr(b, json_string_value(json_array_get(sy, i)));
        }
        sb_str(b, "]");
    } else if (strcmp(type, "array") == 0) {
        sb_str(b, ",\"items\":");
        if (pcf(b, json_object_get(s, "items"), nsk, err, errlen) < 0) return -1;
    } else if (strcmp(type, "map") == 0) {
        sb_str(b, ",\"values\":");
        if (pcf(b, json_object_get(s, "values"), nsk, err, errlen) < 0) return -1;
    } else if (strcmp(type, "fixed") == 0) {
        char n[32];
        snprintf(n, sizeof(n), ",\"size\":%lld", (long long)json_integer_value(json_object_get(s, "size")));
        sb_str(b, n);
    }
    sb_str(b, "}");
    return 0;
}

char *obs_avro_canonical_form(const char *schema_json, char *errstr, size_t errlen) {
    json_error_t je;
    json_t *j = json_loads(schema_json, 0, &je);
    if (!j) {
        snprintf(errstr, errlen, "schema JSON: %s (line %d)", je.text, je.line);
        return NULL;
    }
    struct sbuf b = {0};
    int rc = pcf(&b, j, NULL, errstr, errlen);
    json_decref(j);
    if (rc < 0 || b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- codec ---------------------------------------------------------------- */

void obs_codec_destroy(struct obs_codec *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nwriters; i++) {
        struct codec_writer *w = &c->writers[i];
        if (w->has_resolved) avro_value_decref(&w->resolved);
        if (w->resolver) avro_value_iface_decref(w->resolver);
        if (w->schema) avro_schema_decref(w->schema);
    }
    if (c->has_value) avro_value_decref(&c->value);
    if (c->iface) avro_value_iface_decref(c->iface);
    if (c->schema) avro_schema_decref(c->schema);
    if (c->writer) avro_writer_free(c->writer);
    if (c->reader) avro_reader_free(c->reader);
    free(c->outbuf);
    free(c);
}

static int fingerprint_of(const char *json, uint64_t *fp, char *errstr, size_t errlen) {
    char *canon = obs_avro_canonical_form(json, errstr, errlen);
    if (!canon) return -1;
    *fp = obs_avro_crc64(canon, strlen(canon));
    free(canon);
    return 0;
}

struct obs_codec *obs_codec_create(char *errstr, size_t errlen) {
    struct obs_codec *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    const struct obs_schema_text *cur = NULL;
    for (size_t i = 0; i < obs_schema_ntexts; i++)
        if (obs_schema_texts[i].current) cur = &obs_schema_texts[i];
    if (!cur) {
        snprintf(errstr, errlen, "no current schema embedded");
        goto err;
    }
    if (avro_schema_from_json_length(cur->json, strlen(cur->json), &c->schema)) {
        snprintf(errstr, errlen, "schema %s: %s", cur->name, avro_strerror());
        goto err;
    }
    if (fingerprint_of(cur->json, &c->fp, errstr, errlen) < 0) goto err;
    c->iface = avro_generic_class_from_schema(c->schema);
    if (!c->iface || avro_generic_value_new(c->iface, &c->value)) {
        snprintf(errstr, errlen, "avro value: %s", avro_strerror());
        goto err;
    }
    c->has_value = 1;
    for (int f = 0; f < F_COUNT; f++) {
        int ix = avro_schema_record_field_get_index(c->schema, field_names[f]);
        if (ix < 0) {
            snprintf(errstr, errlen, "schema lacks field %s", field_names[f]);
            goto err;
        }
        c->idx[f] = (size_t)ix;
    }
    for (size_t i = 0; i < obs_schema_ntexts && c->nwriters < MAX_SCHEMAS; i++) {
        const struct obs_schema_text *t = &obs_schema_texts[i];
        if (strncmp(t->name, "session_event", 13) != 0 && !strstr(t->name, "/session_event")) continue;
        struct codec_writer *w = &c->writers[c->nwriters];
        if (fingerprint_of(t->json, &w->fp, errstr, errlen) < 0) goto err;
        if (t->current) {
            c->nwriters++;
            continue;
        }
        if (avro_schema_from_json_length(t->json, strlen(t->json), &w->schema)) {
            snprintf(errstr, errlen, "schema %s: %s", t->name, avro_strerror());
            goto err;
        }
        c->nwriters++;
        w->resolver = avro_resolved_writer_new(w->schema, c->schema);
        if (!w->resolver || avro_resolved_writer_new_value(w->resolver, &w->resolved)) {
            snprintf(errstr, errlen, "schema %s cannot be read as the current one: %s", t->name,
                     avro_strerror());
            goto err;
        }
        w->has_resolved = 1;
        avro_resolved_writer_set_dest(&w->resolved, &c->value);
    }
    c->outcap = 4096;
    c->outbuf = malloc(c->outcap);
    c->writer = avro_writer_memory(c->outbuf, (int64_t)c->outcap);
    c->reader = avro_reader_memory("", 0);
    if (!c->outbuf || !c->writer || !c->reader) {
        snprintf(errstr, errlen, "out of memory");
        goto err;
    }
    return c;
err:
    obs_codec_destroy(c);
    return NULL;
}

uint64_t obs_codec_fingerprint(const struct obs_codec *c) { return c->fp; }

/* Encoding hands avro-c the caller's bytes as wrapped buffers (give_*), so
 * no string or payload is copied into the generic value; the value only
 * points at them until the end of obs_codec_encode, which points every
 * field back at a static empty string. *bound grows by an upper bound of
 * the field's encoded size. */
static int set_str(avro_value_t *rec, size_t idx, const char *s, size_t *bound) {
    avro_value_t f;
    avro_wrapped_buffer_t wb;
    if (avro_value_get_by_index(rec, idx, &f, NULL)) return -1;
    if (!s) s = "";
    size_t n = strlen(s);
    *bound += n + 10;
    return avro_wrapped_buffer_new(&wb, s, n + 1) || avro_value_give_string_len(&f, &wb);
}

static int set_opt_str(avro_value_t *rec, size_t idx, const char *s, size_t *bound) {
    avro_value_t f, br;
    avro_wrapped_buffer_t wb;
    if (avro_value_get_by_index(rec, idx, &f, NULL)) return -1;
    *bound += 10;
    if (!s) return avro_value_set_branch(&f, 0, &br) || avro_value_set_null(&br);
    size_t n = strlen(s);
    *bound += n + 10;
    return avro_value_set_branch(&f, 1, &br) || avro_wrapped_buffer_new(&wb, s, n + 1) ||
           avro_value_give_string_len(&br, &wb);
}

static int set_long(avro_value_t *rec, size_t idx, int64_t v, size_t *bound) {
    avro_value_t f;
    *bound += 10;
    return avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_set_long(&f, v);
}

/* Point every string and bytes field at static memory again. */
static void drop_refs(struct obs_codec *c) {
    static const size_t str_fields[] = {F_EVENT_ID,   F_TENANT,      F_HOST,
                                        F_USER,       F_SOURCE_PATH, F_FILE_ID,
                                        F_SESSION_ID, F_AGENT,       F_PRODUCER_VERSION};
    avro_value_t f, br;
    avro_wrapped_buffer_t wb;
    for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++)
        if (!avro_value_get_by_index(&c->value, c->idx[str_fields[i]], &f, NULL) &&
            !avro_wrapped_buffer_new(&wb, "", 1))
            (void)avro_value_give_string_len(&f, &wb);
    if (!avro_value_get_by_index(&c->value, c->idx[F_AGENT_VERSION], &f, NULL))
        (void)(avro_value_set_branch(&f, 0, &br) || avro_value_set_null(&br));
    if (!avro_value_get_by_index(&c->value, c->idx[F_PAYLOAD], &f, NULL) &&
        !avro_wrapped_buffer_new(&wb, "", 0))
        (void)avro_value_give_bytes(&f, &wb);
}

int obs_codec_encode(struct obs_codec *c, const struct obs_event *ev, const void **out, size_t *outlen,
                     char *errstr, size_t errlen) {
    avro_value_t *r = &c->value;
    avro_value_t f, br;
    avro_wrapped_buffer_t wb;
    size_t need = 10 + 3 * 10; /* header; event_time, redactions, payload length */
    int bad = set_str(r, c->idx[F_EVENT_ID], ev->event_id, &need) ||
              set_str(r, c->idx[F_TENANT], ev->tenant, &need) ||
              set_str(r, c->idx[F_HOST], ev->host, &need) || set_str(r, c->idx[F_USER], ev->user, &need) ||
              set_str(r, c->idx[F_SOURCE_PATH], ev->source_path, &need) ||
              set_str(r, c->idx[F_FILE_ID], ev->file_id, &need) ||
              set_long(r, c->idx[F_SOURCE_OFFSET], ev->source_offset, &need) ||
              set_str(r, c->idx[F_SESSION_ID], ev->session_id, &need) ||
              set_long(r, c->idx[F_OBSERVED_TIME], ev->observed_time_ms, &need) ||
              set_str(r, c->idx[F_AGENT], ev->agent, &need) ||
              set_opt_str(r, c->idx[F_AGENT_VERSION], ev->agent_version, &need) ||
              set_str(r, c->idx[F_PRODUCER_VERSION], ev->producer_version, &need);
    if (!bad) {
        bad = avro_value_get_by_index(r, c->idx[F_EVENT_TIME], &f, NULL);
        if (!bad && ev->event_time_ms == OBS_EVENT_TIME_NULL)
            bad = avro_value_set_branch(&f, 0, &br) || avro_value_set_null(&br);
        else if (!bad)
            bad = avro_value_set_branch(&f, 1, &br) || avro_value_set_long(&br, ev->event_time_ms);
    }
    if (!bad)
        bad = avro_value_get_by_index(r, c->idx[F_REDACTIONS], &f, NULL) ||
              avro_value_set_int(&f, ev->redactions);
    if (!bad)
        bad = avro_value_get_by_index(r, c->idx[F_PAYLOAD], &f, NULL) ||
              avro_wrapped_buffer_new(&wb, ev->payload_len ? ev->payload : "", ev->payload_len) ||
              avro_value_give_bytes(&f, &wb);
    need += ev->payload_len;
    if (bad) {
        snprintf(errstr, errlen, "avro encode: %s", avro_strerror());
        drop_refs(c);
        return -1;
    }
    if (need > c->outcap) {
        size_t nc = need * 2;
        char *nb = realloc(c->outbuf, nc);
        if (!nb) {
            snprintf(errstr, errlen, "avro encode: out of memory (%zu bytes)", nc);
            drop_refs(c);
            return -1;
        }
        c->outbuf = nb;
        c->outcap = nc;
    }
    c->outbuf[0] = (char)0xC3;
    c->outbuf[1] = 0x01;
    for (int i = 0; i < 8; i++)
        c->outbuf[2 + i] = (char)((c->fp >> (8 * i)) & 0xff);
    avro_writer_memory_set_dest(c->writer, c->outbuf + 10, (int64_t)(c->outcap - 10));
    bad = avro_value_write(c->writer, r);
    drop_refs(c);
    if (bad) {
        snprintf(errstr, errlen, "avro encode: %s", avro_strerror());
        return -1;
    }
    *out = c->outbuf;
    *outlen = 10 + (size_t)avro_writer_tell(c->writer);
    return 0;
}

static const char *get_str(avro_value_t *rec, size_t idx) {
    avro_value_t f;
    const char *s = NULL;
    size_t n;
    if (avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_get_string(&f, &s, &n)) return NULL;
    return s;
}

static int64_t get_long(avro_value_t *rec, size_t idx) {
    avro_value_t f;
    int64_t v = 0;
    if (avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_get_long(&f, &v)) return 0;
    return v;
}

int obs_codec_decode(struct obs_codec *c, const void *data, size_t len, struct obs_event *ev, char *errstr,
                     size_t errlen) {
    const unsigned char *p = data;
    if (len < 10 || p[0] != 0xC3 || p[1] != 0x01) {
        snprintf(errstr, errlen, "not an Avro single-object record (bad magic)");
        return -1;
    }
    uint64_t fp = 0;
    for (int i = 0; i < 8; i++)
        fp |= (uint64_t)p[2 + i] << (8 * i);
    struct codec_writer *w = NULL;
    for (size_t i = 0; i < c->nwriters; i++)
        if (c->writers[i].fp == fp) w = &c->writers[i];
    if (!w) {
        snprintf(errstr, errlen, "unknown writer schema fingerprint %016llx", (unsigned long long)fp);
        return -1;
    }
    avro_value_reset(&c->value);
    avro_reader_memory_set_source(c->reader, (const char *)p + 10, (int64_t)(len - 10));
    int rc =
        w->has_resolved ? avro_value_read(c->reader, &w->resolved) : avro_value_read(c->reader, &c->value);
    if (rc) {
        snprintf(errstr, errlen, "truncated or corrupt Avro body: %s", avro_strerror());
        return -1;
    }
    avro_value_t *r = &c->value, f, br;
    memset(ev, 0, sizeof(*ev));
    ev->event_id = get_str(r, c->idx[F_EVENT_ID]);
    ev->tenant = get_str(r, c->idx[F_TENANT]);
    ev->host = get_str(r, c->idx[F_HOST]);
    ev->user = get_str(r, c->idx[F_USER]);
    ev->source_path = get_str(r, c->idx[F_SOURCE_PATH]);
    ev->file_id = get_str(r, c->idx[F_FILE_ID]);
    ev->source_offset = get_long(r, c->idx[F_SOURCE_OFFSET]);
    ev->session_id = get_str(r, c->idx[F_SESSION_ID]);
    ev->observed_time_ms = get_long(r, c->idx[F_OBSERVED_TIME]);
    ev->agent = get_str(r, c->idx[F_AGENT]);
    ev->producer_version = get_str(r, c->idx[F_PRODUCER_VERSION]);
    ev->event_time_ms = OBS_EVENT_TIME_NULL;
    int disc = 0;
    if (!avro_value_get_by_index(r, c->idx[F_EVENT_TIME], &f, NULL) &&
        !avro_value_get_discriminant(&f, &disc) && disc == 1 && !avro_value_get_current_branch(&f, &br))
        avro_value_get_long(&br, &ev->event_time_ms);
    if (!avro_value_get_by_index(r, c->idx[F_AGENT_VERSION], &f, NULL) &&
        !avro_value_get_discriminant(&f, &disc) && disc == 1 && !avro_value_get_current_branch(&f, &br)) {
        size_t n;
        avro_value_get_string(&br, &ev->agent_version, &n);
    }
    if (!avro_value_get_by_index(r, c->idx[F_REDACTIONS], &f, NULL)) avro_value_get_int(&f, &ev->redactions);
    if (!avro_value_get_by_index(r, c->idx[F_PAYLOAD], &f, NULL))
        avro_value_get_bytes(&f, &ev->payload, &ev->payload_len);
    if (!ev->event_id || !ev->session_id || !ev->tenant) {
        snprintf(errstr, errlen, "record lacks event_id/session_id/tenant");
        return -1;
    }
    return 0;
}
