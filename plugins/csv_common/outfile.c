/*
 * outfile.c -- see outfile.h.  The temporary file lives in the final
 * file's directory so the rename is atomic (same filesystem) and a killed
 * scan leaves only a hidden, clearly named temporary.
 */
#define _GNU_SOURCE
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

#define OUTFILE_TMP_SUFFIX ".pwalk-tmp-XXXXXX"

/* Start write-back every 8 MiB instead of leaving the whole report to the
 * fdatasync at commit: the disk then works while the walk runs, and the
 * commit (which the scan's wall time includes) waits for the tail only --
 * measured 0.09 s of a 1.5 s scan writing 147 MB without it. */
#define OUTFILE_WRITEBACK (8ull << 20)

static void outfile_reset(outfile *f)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

/* The process umask without changing it: umask(0) + umask(old) would leave
 * a window in which files other threads create get mode 0666 (the Python
 * package loads plugins into a threaded interpreter).  Linux >= 4.7 shows it
 * in /proc; the two-call fallback is for anything older. */
static mode_t outfile_umask(void)
{
    FILE *st = fopen("/proc/self/status", "re");
    if (st) {
        char line[256];
        unsigned int mask;
        while (fgets(line, sizeof line, st)) {
            if (sscanf(line, "Umask: %o", &mask) == 1) {
                fclose(st);
                return (mode_t)(mask & 0777);
            }
        }
        fclose(st);
    }
    mode_t mask = umask(022);
    umask(mask);
    return mask;
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
        /* rename() would fail on a directory only after the whole scan
         * (lstat: a symlink there is simply replaced by the rename) */
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "cannot create '%s': %s", path, strerror(EISDIR));
            return -1;
        }
        /* a final name near NAME_MAX is legal, but the temporary adds 18
         * bytes: shorten the copy of the base inside the temporary name */
        size_t base_len = strlen(base);
        size_t room = NAME_MAX - 1 - (sizeof OUTFILE_TMP_SUFFIX - 1);
        int shown = (int)(base_len < room ? base_len : room);
        int dir_len = slash ? (int)(slash - path) + 1 : 0;
        if (asprintf(&f->tmp_path, "%.*s.%.*s" OUTFILE_TMP_SUFFIX, dir_len, path, shown,
                     base) < 0) {
            f->tmp_path = NULL;
            snprintf(err, errlen, "cannot create '%s': %s", path, strerror(ENOMEM));
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
        if (fchmod(f->fd, 0666 & ~outfile_umask()) != 0) {
            snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
            outfile_abort(f);
            return -1;
        }
    }
    f->final_path = strdup(path);
    if (!f->final_path) {
        snprintf(err, errlen, "cannot create '%s': %s", path, strerror(ENOMEM));
        outfile_abort(f);
        return -1;
    }
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        snprintf(err, errlen, "cannot create '%s': cannot create a lock", path);
        outfile_abort(f);
        return -1;
    }
    f->lock_ready = 1;
    return 0;
}

static void outfile_failed_msg(const outfile *f, char *err, size_t errlen)
{
    if (f->failed_errno)
        snprintf(err, errlen, "write to '%s' failed: %s", f->final_path,
                 strerror(f->failed_errno));
    else
        snprintf(err, errlen, "write to '%s' failed: no progress", f->final_path);
}

int outfile_write(outfile *f, const void *buf, size_t len, char *err, size_t errlen)
{
    if (!f->lock_ready) {
        snprintf(err, errlen, "write to '%s' failed: not open",
                 f->final_path ? f->final_path : "?");
        return -1;
    }
    const char *p = buf;
    int rc = 0;
    /* held across the partial-write loop: a pipe may take a buffer in
     * pieces, and another thread's buffer must not land between them */
    pthread_mutex_lock(&f->lock);
    if (f->failed) {
        outfile_failed_msg(f, err, errlen);
        rc = -1;
    }
    while (rc == 0 && len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            f->failed = 1;
            f->failed_errno = n < 0 ? errno : 0;
            outfile_failed_msg(f, err, errlen);
            rc = -1;
            break;
        }
        p += n;
        len -= (size_t)n;
        f->written += (unsigned long long)n;
    }
    if (rc == 0 && !f->is_stdout && f->written - f->flushed >= OUTFILE_WRITEBACK) {
        /* a hint: pipes and filesystems without it just say no */
        (void)sync_file_range(f->fd, (off_t)f->flushed, (off_t)(f->written - f->flushed),
                              SYNC_FILE_RANGE_WRITE);
        f->flushed = f->written;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int outfile_prepare(outfile *f, char *err, size_t errlen)
{
    if (f->prepared)
        return 0;
    if (!f->final_path) {
        snprintf(err, errlen, "output file is not open");
        return -1;
    }
    if (f->failed) {
        /* a report with a hole in it must not appear under its name */
        outfile_failed_msg(f, err, errlen);
        outfile_abort(f);
        return -1;
    }
    if (f->is_stdout) {
        f->prepared = 1;
        return 0;
    }
    if (f->fd < 0 || !f->tmp_path) {
        snprintf(err, errlen, "'%s' is not open", f->final_path);
        outfile_abort(f);
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
    /* NFS reports a failed write-back only here */
    if (close(fd) != 0) {
        snprintf(err, errlen, "cannot close '%s': %s", f->final_path, strerror(errno));
        outfile_abort(f);
        return -1;
    }
    f->prepared = 1;
    return 0;
}

int outfile_commit(outfile *f, char *err, size_t errlen)
{
    if (outfile_prepare(f, err, errlen) != 0)
        return -1;
    if (f->is_stdout) {
        outfile_abort(f);
        return 0;
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
