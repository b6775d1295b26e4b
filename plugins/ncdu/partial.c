/*
 * partial.c -- a rank's records for pwalk-mpi's merge (partial.h).
 */
#define _GNU_SOURCE
#include "partial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char ncdu_magic_head[8] = {'P', 'W', 'N', 'C', 'D', 'U', 'P', '1'};
static const char ncdu_magic_tail[8] = {'P', 'W', 'N', 'C', 'D', 'U', 'E', '1'};

int ncdu_partial_write(ncdu_out *o, ncdu_merge *m, const char *root, const char *version,
                       char *err, size_t errlen)
{
    uint32_t lens[2] = {(uint32_t)strlen(root), (uint32_t)strlen(version ? version : "")};
    int rc = ncdu_out_put(o, ncdu_magic_head, 8) || ncdu_out_put(o, (const char *)lens, 8) ||
             ncdu_out_put(o, root, lens[0]) || ncdu_out_put(o, version ? version : "", lens[1])
                 ? -1 : 0;
    uint64_t tail[2] = {0, 0};
    const ncdu_rec *r;
    const char *key;
    int got = 0;
    while (rc == 0 && (got = ncdu_merge_next(m, &r, &key, err, errlen)) > 0) {
        rc = ncdu_out_put(o, (const char *)r, sizeof *r) || ncdu_out_put(o, key, r->key_len)
                 ? -1 : 0;
        tail[0]++;
        tail[1] += sizeof *r + r->key_len;
    }
    if (got < 0)
        return -1;
    if (rc == 0)
        rc = ncdu_out_put(o, (const char *)tail, sizeof tail) ||
             ncdu_out_put(o, ncdu_magic_tail, 8) ? -1 : 0;
    return rc == 0 ? ncdu_out_end(o) : -1;
}

static int partial_read(int fd, void *buf, size_t n, uint64_t off)
{
    ssize_t got;
    do
        got = pread(fd, buf, n, (off_t)off);
    while (got < 0 && errno == EINTR);
    return got == (ssize_t)n ? 0 : -1;
}

/* The header's root and version: malloc'ed, NUL-terminated. */
static int partial_strings(int fd, uint64_t size, uint64_t *end, char **root, char **version)
{
    uint32_t lens[2];
    if (partial_read(fd, lens, sizeof lens, 8) != 0 || 16 + (uint64_t)lens[0] + lens[1] > size)
        return -1;
    *root = calloc(1, (size_t)lens[0] + 1);
    *version = calloc(1, (size_t)lens[1] + 1);
    if (!*root || !*version || partial_read(fd, *root, lens[0], 16) != 0 ||
        partial_read(fd, *version, lens[1], 16 + lens[0]) != 0)
        return -1;
    *end = 16 + (uint64_t)lens[0] + lens[1];
    return 0;
}

int ncdu_partial_open(const char *path, ncdu_run *run, char **root, char **version, char *err,
                      size_t errlen)
{
    *root = *version = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "ncdu partial '%s': %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char head[8], tailmagic[8];
    uint64_t size = (uint64_t)st.st_size, tail[2], start = 0;
    const char *why = NULL;
    if (size < 40 || partial_read(fd, head, 8, 0) != 0 || memcmp(head, ncdu_magic_head, 8))
        why = "not an ncdu partial of this version";
    else if (partial_read(fd, tailmagic, 8, size - 8) != 0 ||
             memcmp(tailmagic, ncdu_magic_tail, 8) ||
             partial_read(fd, tail, sizeof tail, size - 24) != 0)
        why = "truncated (no end marker)";
    else if (partial_strings(fd, size, &start, root, version) != 0 ||
             start + tail[1] + 24 != size)
        why = "corrupt (lengths do not add up to the file's size)";
    if (why) {
        snprintf(err, errlen, "ncdu partial '%s': %s", path, why);
        free(*root);
        free(*version);
        *root = *version = NULL;
        close(fd);
        return -1;
    }
    *run = (ncdu_run){fd, start, tail[1]};
    return 0;
}
