/*
 * engine/mpi/ckpt.c -- the rank journals' names, the checkpoint manifest
 * and durations of pwalk-mpi; see ckpt.h.
 */
#define _GNU_SOURCE
#include "ckpt.h"

#include "common/outfile.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ckpt_rank_path(const char *path, uint64_t generation, int rank, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s.g%u.rank-%04d", path, (unsigned)(generation % 2), rank);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

size_t ckpt_rank_share(int rank, int ranks, int old_ranks, int *out, size_t cap)
{
    size_t n = 0;
    for (int k = rank; ranks > 0 && k < old_ranks && n < cap; k += ranks)
        out[n++] = k;
    return n;
}

/* s as a JSON string: the paths are the user's bytes; anything that is not
 * printable ASCII is written as \u00XX of the byte (for people to read:
 * the resume derives every name from the manifest's own path). */
static void json_bytes(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void manifest_body(FILE *f, const char *path, const ckpt_manifest *m,
                          const char *const *outputs, size_t n)
{
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"format_version\": 1,\n  \"pwalk\": ",
            CKPT_FORMAT);
    json_bytes(f, m->version);
    fprintf(f, ",\n  \"generation\": %" PRIu64 ",\n  \"parity\": %u,\n  \"ranks\": %d,\n"
               "  \"started\": %" PRId64 ",\n",
            m->generation, (unsigned)(m->generation % 2), m->ranks, m->started);
    fputs("  \"sessions\": [", f);
    for (size_t i = 0; i < m->session_count; i++)
        fprintf(f, "%s[%" PRId64 ", %" PRId64 "]", i ? ", " : "", m->sessions[2 * i],
                m->sessions[2 * i + 1]);
    fputs("],\n  \"journals\": [", f);
    char name[PATH_MAX + 64];
    for (int r = 0; r < m->ranks; r++) {
        fputs(r ? ", " : "", f);
        if (ckpt_rank_path(path, m->generation, r, name, sizeof name) == 0)
            json_bytes(f, name);
    }
    fputs("],\n  \"outputs\": [", f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        json_bytes(f, outputs[i]);
    }
    fputs("]\n}\n", f);
}

int ckpt_write_manifest(const char *path, int mode, const ckpt_manifest *m,
                        const char *const *outputs, size_t n, char *err, size_t errlen)
{
    char *body = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&body, &len);
    if (!mem) {
        snprintf(err, errlen, "checkpoint '%s': %s", path, strerror(errno));
        return -1;
    }
    manifest_body(mem, path, m, outputs, n);
    if (fclose(mem) != 0) {
        free(body);
        snprintf(err, errlen, "checkpoint '%s': %s", path, strerror(ENOMEM));
        return -1;
    }
    outfile f;
    char why[1024];
    int rc = outfile_open_mode(&f, path, mode, why, sizeof why);
    if (rc == 0) {
        rc = outfile_write(&f, body, len, why, sizeof why) == 0 &&
                     outfile_commit(&f, why, sizeof why) == 0
                 ? 0
                 : -1;
        outfile_abort(&f);
    }
    free(body);
    if (rc != 0)
        snprintf(err, errlen, "checkpoint '%s': %s", path, why);
    return rc;
}

/* The number after "KEY": in text, or -1 when absent or malformed. */
static int manifest_number(const char *text, const char *key, long long *v)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\n  \"%s\": ", key);
    const char *p = strstr(text, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    char *end;
    errno = 0;
    *v = strtoll(p, &end, 10);
    return errno || end == p || (*end != ',' && *end != '\n') ? -1 : 0;
}

/* The writer's version: "pwalk": "V" with V plain (a version string). */
static int manifest_version(const char *text, char *out, size_t outlen)
{
    const char *p = strstr(text, "\n  \"pwalk\": \"");
    if (!p)
        return -1;
    p += strlen("\n  \"pwalk\": \"");
    size_t n = strcspn(p, "\"\\\n");
    if (p[n] != '"' || n == 0 || n >= outlen)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* "sessions": [[S, E], ...]: at least one, each S <= E (E 0: none yet). */
static int manifest_sessions(const char *text, ckpt_manifest *m)
{
    const char *p = strstr(text, "\n  \"sessions\": [");
    if (!p)
        return -1;
    p += strlen("\n  \"sessions\": [");
    size_t cap = 0;
    while (*p == '[' || (*p == ',' && p[1] == ' ' && p[2] == '[')) {
        p += *p == ',' ? 3 : 1;
        long long s, e;
        int used = 0;
        if (sscanf(p, "%lld, %lld]%n", &s, &e, &used) != 2 || used == 0 || s < 0 ||
            (e != 0 && e < s) || m->session_count >= CKPT_MAX_SESSIONS)
            return -1;
        p += used;
        if (m->session_count == cap) {
            cap = cap ? cap * 2 : 8;
            int64_t *grown = realloc(m->sessions, cap * 2 * sizeof *grown);
            if (!grown)
                return -1;
            m->sessions = grown;
        }
        m->sessions[2 * m->session_count] = s;
        m->sessions[2 * m->session_count + 1] = e;
        m->session_count++;
    }
    return strncmp(p, "],\n", 3) == 0 && m->session_count > 0 ? 0 : -1;
}

void ckpt_manifest_free(ckpt_manifest *m)
{
    free(m->sessions);
    m->sessions = NULL;
    m->session_count = 0;
}

static int manifest_parse(const char *text, ckpt_manifest *m)
{
    long long fv, gen, parity, ranks, started;
    static const char head[] = "{\n  \"format\": \"" CKPT_FORMAT "\",\n";
    size_t len = strlen(text);
    /* whole: from its head to its closing brace */
    if (strncmp(text, head, sizeof head - 1) != 0 || len < 4 ||
        strcmp(text + len - 4, "]\n}\n") != 0 ||
        manifest_number(text, "format_version", &fv) != 0 || fv != 1 ||
        manifest_number(text, "generation", &gen) != 0 || gen < 1 ||
        manifest_number(text, "parity", &parity) != 0 || parity != gen % 2 ||
        manifest_number(text, "ranks", &ranks) != 0 || ranks < 1 || ranks > 1 << 20 ||
        manifest_number(text, "started", &started) != 0 ||
        manifest_version(text, m->version, sizeof m->version) != 0 ||
        manifest_sessions(text, m) != 0)
        return -1;
    m->generation = (uint64_t)gen;
    m->ranks = (int)ranks;
    m->started = started;
    return 0;
}

int ckpt_read_manifest(const char *path, ckpt_manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rbe");
    if (!f) {
        snprintf(err, errlen, "checkpoint '%s': %s", path, strerror(errno));
        return -1;
    }
    /* a manifest is a few hundred bytes per rank: more is not one */
    size_t cap = 1 << 20;
    char *text = malloc(cap + 1);
    size_t len = text ? fread(text, 1, cap + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!text || bad) {
        snprintf(err, errlen, "checkpoint '%s': %s", path, strerror(text ? EIO : ENOMEM));
        free(text);
        return -1;
    }
    text[len > cap ? cap : len] = '\0';
    int rc = len <= cap && strlen(text) == len ? manifest_parse(text, m) : -1;
    free(text);
    if (rc != 0) {
        ckpt_manifest_free(m);
        memset(m, 0, sizeof *m);
        snprintf(err, errlen, "checkpoint '%s': not a pwalk-mpi checkpoint manifest", path);
    }
    return rc;
}

void ckpt_remove_journals(const char *path, int from, int to)
{
    char name[PATH_MAX + 64];
    for (int r = from; r < to; r++)
        for (uint64_t g = 0; g < 2; g++)
            if (ckpt_rank_path(path, g, r, name, sizeof name) == 0)
                unlink(name);
}
