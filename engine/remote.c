/*
 * remote.c -- directory records between walks of different processes
 * (remote.h).  The walk hands directories out and takes them in through
 * walk_remote_take() / walk_remote_add(); this file only turns them into
 * records and back, and refuses any record that could lead a re-open
 * anywhere but down from its root.
 */
#define _GNU_SOURCE
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct remote_out {
    char **buf;
    size_t *len;
} remote_out;

/* walk_remote_take()'s callback: append d's record to the message. */
static int remote_append(void *ctx, const walk_dir *d)
{
    remote_out *out = ctx;
    size_t size = remote_record_size(d->path_len);
    char *grown = realloc(*out->buf, *out->len + size);
    if (!grown)
        return -1;
    *out->buf = grown;
    remote_record r;
    memset(&r, 0, sizeof r);
    r.size = (uint32_t)size;
    r.root_index = d->root_index;
    r.path_len = (uint32_t)d->path_len;
    r.depth = d->depth;
    r.parent_ino = d->parent_ino;
    r.root_dev = d->root_dev;
    r.root_ino = d->root_ino;
    r.st = d->st;
    char *at = grown + *out->len;
    memset(at, 0, size);
    memcpy(at, &r, sizeof r);
    memcpy(at + sizeof r, d->path, d->path_len);
    *out->len += size;
    return 0;
}

int remote_encode(const walk_dir *d, char **buf, size_t *len)
{
    remote_out out = {buf, len};
    return remote_append(&out, d);
}

long remote_export(walk_run *run, size_t max, char **buf, size_t *len)
{
    remote_out out = {buf, len};
    return walk_remote_take(run, max, remote_append, &out);
}

/* A record's path: root's display path, then "/" (nothing more after
 * "/"), then components that only go down. */
static int remote_path_ok(const char *root, const char *path, size_t len)
{
    size_t rl = walk_root_display_len(root);
    if (len <= rl || memcmp(path, root, rl) != 0 || memchr(path, '\0', len) != NULL)
        return 0;
    size_t i = rl;
    if (!(rl == 1 && root[0] == '/') && path[i++] != '/')
        return 0;
    while (i <= len) {
        const char *comp = path + i;
        const char *slash = memchr(comp, '/', len - i);
        size_t n = slash ? (size_t)(slash - comp) : len - i;
        if (n == 0 || (n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.'))
            return 0;
        i += n + 1;
    }
    return 1;
}

long remote_check(char *const *roots, size_t root_count, const char *buf, size_t len,
                  char *err, size_t errlen)
{
    long count = 0;
    for (size_t off = 0; off < len;) {
        remote_record r;
        if (len - off < sizeof r) {
            snprintf(err, errlen, "truncated directory record at byte %zu", off);
            return -1;
        }
        memcpy(&r, buf + off, sizeof r);
        if (r.path_len == 0 || r.size != remote_record_size(r.path_len) || r.size > len - off) {
            snprintf(err, errlen, "malformed directory record at byte %zu", off);
            return -1;
        }
        if (r.root_index >= root_count) {
            snprintf(err, errlen, "directory record at byte %zu names root %u of %zu", off,
                     r.root_index, root_count);
            return -1;
        }
        if (!S_ISDIR(r.st.st_mode) ||
            !remote_path_ok(roots[r.root_index], buf + off + sizeof r, r.path_len)) {
            snprintf(err, errlen,
                     "directory record at byte %zu is not a directory below root %u", off,
                     r.root_index);
            return -1;
        }
        off += r.size;
        count++;
    }
    return count;
}

long remote_import(walk_run *run, const char *buf, size_t len, char *err, size_t errlen)
{
    size_t root_count;
    char *const *roots = walk_remote_roots(run, &root_count);
    /* Check every record before queueing any. */
    long count = remote_check(roots, root_count, buf, len, err, errlen);
    if (count < 0)
        return -1;
    for (size_t off = 0; off < len;) {
        remote_record r;
        memcpy(&r, buf + off, sizeof r);
        walk_dir d = {buf + off + sizeof r, r.path_len, r.root_index, r.depth,
                      r.parent_ino,         r.root_dev, r.root_ino,   r.st};
        if (walk_remote_add(run, &d) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        off += r.size;
    }
    return count;
}
