/*
 * outfile.c -- see outfile.h.  The temporary file lives in the final
 * file's directory so the rename is atomic (same filesystem) and a killed
 * scan leaves only a hidden, clearly named temporary.
 */
#define _GNU_SOURCE
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void outfile_reset(outfile *f)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

int outfile_open(outfile *f, const char *path, char *err, size_t errlen)
{
    outfile_reset(f);
    if (strcmp(path, "-") == 0) {
        f->is_stdout = 1;
        f->fd = STDOUT_FILENO;
    } else {
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        if (*base == '\0') {
            snprintf(err, errlen, "cannot create '%s': not a file name", path);
            return -1;
        }
        int dir_len = slash ? (int)(slash - path) + 1 : 0;
        if (asprintf(&f->tmp_path, "%.*s.%s.pwalk-tmp-XXXXXX", dir_len, path, base) < 0) {
            f->tmp_path = NULL;
            snprintf(err, errlen, "cannot create '%s': out of memory", path);
            return -1;
        }
        f->fd = mkostemp(f->tmp_path, O_CLOEXEC);
        if (f->fd < 0) {
            snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
            free(f->tmp_path);
            outfile_reset(f);
            return -1;
        }
        /* mkstemp makes 0600; a report gets what any new file would */
        mode_t mask = umask(0);
        umask(mask);
        fchmod(f->fd, 0666 & ~mask);
    }
    f->final_path = strdup(path);
    if (!f->final_path) {
        snprintf(err, errlen, "cannot create '%s': out of memory", path);
        outfile_abort(f);
        return -1;
    }
    pthread_mutex_init(&f->lock, NULL);
    f->lock_ready = 1;
    return 0;
}

int outfile_write(outfile *f, const void *buf, size_t len, char *err, size_t errlen)
{
    const char *p = buf;
    int rc = 0;
    pthread_mutex_lock(&f->lock);
    if (f->failed) {
        snprintf(err, errlen, "write to '%s' failed earlier", f->final_path);
        rc = -1;
    }
    while (rc == 0 && len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "write to '%s' failed: %s", f->final_path,
                     n < 0 ? strerror(errno) : "no progress");
            f->failed = 1;
            rc = -1;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int outfile_commit(outfile *f, char *err, size_t errlen)
{
    if (f->failed) {
        snprintf(err, errlen, "write to '%s' failed", f->final_path);
        outfile_abort(f);
        return -1;
    }
    if (f->is_stdout) {
        outfile_abort(f);
        return 0;
    }
    if (f->fd < 0 || !f->tmp_path) {
        snprintf(err, errlen, "'%s' is not open", f->final_path ? f->final_path : "?");
        return -1;
    }
    /* the data must be on disk before the name says the report exists */
    if (fdatasync(f->fd) != 0 && errno != EINVAL) {
        snprintf(err, errlen, "cannot sync '%s': %s", f->final_path, strerror(errno));
        outfile_abort(f);
        return -1;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) {
        snprintf(err, errlen, "cannot close '%s': %s", f->final_path, strerror(errno));
        outfile_abort(f);
        return -1;
    }
    if (rename(f->tmp_path, f->final_path) != 0) {
        snprintf(err, errlen, "cannot rename into '%s': %s", f->final_path, strerror(errno));
        outfile_abort(f);
        return -1;
    }
    free(f->tmp_path);
    f->tmp_path = NULL;
    outfile_abort(f); /* frees the rest */
    return 0;
}

void outfile_abort(outfile *f)
{
    if (f->fd >= 0 && !f->is_stdout)
        close(f->fd);
    f->fd = -1;
    if (f->tmp_path) {
        unlink(f->tmp_path);
        free(f->tmp_path);
        f->tmp_path = NULL;
    }
    free(f->final_path);
    f->final_path = NULL;
    if (f->lock_ready) {
        pthread_mutex_destroy(&f->lock);
        f->lock_ready = 0;
    }
}
