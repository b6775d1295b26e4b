/*
 * outfile.c -- see outfile.h.  The temporary file lives in the final
 * file's directory so the rename is atomic (same filesystem) and a killed
 * scan leaves only a hidden, clearly named temporary; that directory is
 * opened once and used only through its fd.
 */
#define _GNU_SOURCE
#include "common/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
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
    f->dirfd = -1;
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

int outfile_parse_mode(const char *text, int *mode)
{
    size_t n = strlen(text);
    if (n < 3 || n > 4 || strspn(text, "01234567") != n || (n == 4 && text[0] != '0'))
        return -1;
    *mode = (int)strtol(text, NULL, 8);
    return 0;
}

/* f->dir_path and f->base from path: "a/b/x.csv" -> "a/b" + "x.csv",
 * "/x.csv" -> "/" + "x.csv", "x.csv" -> "." + "x.csv". */
static int outfile_split(outfile *f, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        f->dir_path = strdup(".");
    else if (slash == path)
        f->dir_path = strdup("/");
    else
        f->dir_path = strndup(path, (size_t)(slash - path));
    f->base = strdup(slash ? slash + 1 : path);
    return f->dir_path && f->base ? 0 : -1;
}

/* The directory, opened once: everything after this is relative to it.
 * A drop box the user may write but not read (-wx) still takes the report:
 * O_PATH then, and only the directory's fsync is lost. */
static int outfile_open_dir(outfile *f)
{
    f->dirfd = open(f->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f->dir_syncable = f->dirfd >= 0;
    if (f->dirfd < 0 && errno == EACCES)
        f->dirfd = open(f->dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (f->dirfd < 0 || fstat(f->dirfd, &st) != 0)
        return -1;
    f->dir_dev = st.st_dev;
    f->dir_ino = st.st_ino;
    return 0;
}

/* ".BASE.pwalk-tmp-XXXXXX" created with O_EXCL | O_NOFOLLOW in dirfd (as
 * mkostemp does, which takes paths only): a name planted by someone else is
 * never opened.  The base is shortened inside the temporary name so that a
 * final name near NAME_MAX still gets one. */
static int outfile_create_tmp(outfile *f)
{
    static const char chars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t room = NAME_MAX - 1 - (sizeof OUTFILE_TMP_SUFFIX - 1);
    size_t base_len = strlen(f->base);
    int shown = (int)(base_len < room ? base_len : room);
    if (asprintf(&f->tmp_name, ".%.*s" OUTFILE_TMP_SUFFIX, shown, f->base) < 0) {
        f->tmp_name = NULL;
        errno = ENOMEM;
        return -1;
    }
    char *x = f->tmp_name + strlen(f->tmp_name) - 6;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char rnd[6];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            unsigned long v = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16) ^
                              (unsigned long)attempt * 2654435761u;
            for (size_t i = 0; i < sizeof rnd; i++, v >>= 5)
                rnd[i] = (unsigned char)v;
        }
        for (int i = 0; i < 6; i++)
            x[i] = chars[rnd[i] % (sizeof chars - 1)];
        f->fd = openat(f->dirfd, f->tmp_name,
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f->fd >= 0 || errno != EEXIST)
            break;
    }
    if (f->fd < 0) {
        int saved = errno;
        free(f->tmp_name);
        f->tmp_name = NULL;
        errno = saved;
        return -1;
    }
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return -1;
    f->tmp_dev = st.st_dev;
    f->tmp_ino = st.st_ino;
    return 0;
}

/* Split, open the directory, refuse what the final rename would refuse.
 * errno says why on -1. */
static int outfile_locate(outfile *f, const char *path)
{
    if (outfile_split(f, path) != 0) {
        errno = ENOMEM;
        return -1;
    }
    if (f->base[0] == '\0') {
        errno = EISDIR;
        return -1;
    }
    if (outfile_open_dir(f) != 0)
        return -1;
    /* rename() would fail on these only after the whole scan */
    long name_max = fpathconf(f->dirfd, _PC_NAME_MAX);
    if (strlen(f->base) > (size_t)(name_max > 0 ? name_max : NAME_MAX)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    struct stat st; /* (a symlink there is simply replaced by the rename) */
    if (fstatat(f->dirfd, f->base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return -1;
    }
    return 0;
}

/* outfile_locate, then create the temporary.  errno says why on -1. */
static int outfile_create(outfile *f, const char *path, int mode)
{
    if (outfile_locate(f, path) != 0 || outfile_create_tmp(f) != 0)
        return -1;
    if (mode == OUTFILE_MODE_DEFAULT)
        mode = geteuid() == 0 ? 0600 : (int)(0666 & ~outfile_umask());
    /* explicit modes are applied as given: fchmod, not the umask */
    return fchmod(f->fd, (mode_t)mode);
}

int outfile_open(outfile *f, const char *path, char *err, size_t errlen)
{
    return outfile_open_mode(f, path, OUTFILE_MODE_DEFAULT, err, errlen);
}

int outfile_open_mode(outfile *f, const char *path, int mode, char *err, size_t errlen)
{
    outfile_reset(f);
    if (strcmp(path, "-") == 0) {
        f->is_stdout = 1;
        f->fd = STDOUT_FILENO;
    } else if (outfile_create(f, path, mode) != 0) {
        if (errno == EISDIR && f->base && f->base[0] == '\0')
            snprintf(err, errlen, "cannot create '%s': not a file name", path);
        else
            snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
        outfile_abort(f);
        return -1;
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

/* The path still leads to the directory opened at the start, and the
 * temporary there is still the file created then: otherwise someone swapped
 * a directory on the path (or the temporary) during the scan.  The rename
 * goes through dirfd either way, so this check is what makes the swap an
 * error instead of a report quietly left in the old directory. */
int outfile_check(const outfile *f, char *err, size_t errlen)
{
    if (f->is_stdout || !f->tmp_name) /* stdout, or nothing left to publish */
        return 0;
    struct stat st;
    if (stat(f->dir_path, &st) != 0) {
        snprintf(err, errlen, "cannot rename into '%s': output directory '%s': %s",
                 f->final_path, f->dir_path, strerror(errno));
        return -1;
    }
    if (st.st_dev != f->dir_dev || st.st_ino != f->dir_ino) {
        snprintf(err, errlen,
                 "cannot rename into '%s': output directory '%s' was replaced during the scan",
                 f->final_path, f->dir_path);
        return -1;
    }
    if (fstatat(f->dirfd, f->tmp_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        st.st_dev != f->tmp_dev || st.st_ino != f->tmp_ino) {
        snprintf(err, errlen,
                 "cannot rename into '%s': its temporary file '%s' was removed or replaced "
                 "during the scan",
                 f->final_path, f->tmp_name);
        return -1;
    }
    return 0;
}

/* A resumed part's old tail past what was written since (outfile_resume). */
static int outfile_cut_tail(outfile *f)
{
    if (!f->cut_pending)
        return 0;
    if (ftruncate(f->fd, (off_t)f->written) != 0)
        return -1;
    f->cut_pending = 0;
    return 0;
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
    if (f->fd < 0 || !f->tmp_name) {
        snprintf(err, errlen, "'%s' is not open", f->final_path);
        outfile_abort(f);
        return -1;
    }
    /* the data must be on disk before the name says the report exists */
    if (outfile_cut_tail(f) != 0 || (fdatasync(f->fd) != 0 && errno != EINVAL)) {
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
    /* a replaced directory fails the scan in this first phase, before any
     * output of the pipeline is renamed (the commit checks again) */
    if (outfile_check(f, err, errlen) != 0) {
        outfile_abort(f);
        return -1;
    }
    f->prepared = 1;
    return 0;
}

static int outfile_publish(outfile *f, const char *suffix, char *err, size_t errlen)
{
    if (outfile_prepare(f, err, errlen) != 0)
        return -1;
    if (f->is_stdout) {
        outfile_abort(f);
        return 0;
    }
    char *name = NULL;
    if (asprintf(&name, "%s%s", f->base, suffix) < 0) {
        snprintf(err, errlen, "cannot rename into '%s': %s", f->final_path, strerror(ENOMEM));
        outfile_abort(f);
        return -1;
    }
    if (outfile_check(f, err, errlen) != 0) {
        free(name);
        outfile_abort(f);
        return -1;
    }
    if (renameat(f->dirfd, f->tmp_name, f->dirfd, name) != 0) {
        snprintf(err, errlen, "cannot rename into '%s%s': %s", f->final_path, suffix,
                 strerror(errno));
        free(name);
        outfile_abort(f);
        return -1;
    }
    free(name);
    free(f->tmp_name);
    f->tmp_name = NULL;
    /* the rename itself durable; best effort (the file is already whole) */
    if (f->dir_syncable)
        (void)fsync(f->dirfd);
    outfile_abort(f); /* frees the rest */
    return 0;
}

int outfile_commit(outfile *f, char *err, size_t errlen)
{
    return outfile_publish(f, "", err, errlen);
}

int outfile_commit_suffix(outfile *f, const char *suffix, char *err, size_t errlen)
{
    return outfile_publish(f, suffix, err, errlen);
}

/* Forget the absorbed parts' names, removing the parts when unlink. */
static void outfile_drop_parts(outfile *f, int unlink)
{
    for (size_t i = 0; i < f->part_count; i++) {
        if (unlink && f->dirfd >= 0)
            (void)unlinkat(f->dirfd, f->parts[i], 0);
        free(f->parts[i]);
    }
    free(f->parts);
    f->parts = NULL;
    f->part_count = 0;
}

void outfile_abort(outfile *f)
{
    if (f->fd >= 0 && !f->is_stdout)
        close(f->fd);
    f->fd = -1;
    if (f->tmp_name) {
        (void)unlinkat(f->dirfd, f->tmp_name, 0);
        free(f->tmp_name);
        f->tmp_name = NULL;
    }
    /* published or abandoned: the parts' bytes are in it, or unwanted */
    outfile_drop_parts(f, 1);
    if (f->dirfd >= 0)
        close(f->dirfd);
    f->dirfd = -1;
    free(f->final_path);
    f->final_path = NULL;
    free(f->dir_path);
    f->dir_path = NULL;
    free(f->base);
    f->base = NULL;
    if (f->lock_ready) {
        pthread_mutex_destroy(&f->lock);
        f->lock_ready = 0;
    }
}

/* ---- Checkpoints -------------------------------------------------------- */

int outfile_sync(outfile *f, unsigned long long *length, char *err, size_t errlen)
{
    if (!f->lock_ready || f->is_stdout || f->fd < 0) {
        snprintf(err, errlen, "cannot checkpoint '%s': %s", f->final_path ? f->final_path : "?",
                 f->is_stdout ? "standard output cannot be continued by another process"
                              : "not open");
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&f->lock);
    if (f->failed) {
        outfile_failed_msg(f, err, errlen);
        rc = -1;
    } else if (outfile_cut_tail(f) != 0 || (fdatasync(f->fd) != 0 && errno != EINVAL)) {
        snprintf(err, errlen, "cannot sync '%s': %s", f->final_path, strerror(errno));
        rc = -1;
    } else {
        *length = f->written;
        f->flushed = f->written;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int outfile_is_tmp_of(const char *name, const char *base)
{
    size_t room = NAME_MAX - 1 - (sizeof OUTFILE_TMP_SUFFIX - 1);
    size_t shown = strlen(base) < room ? strlen(base) : room;
    size_t suffix = sizeof OUTFILE_TMP_SUFFIX - 1 - 6;
    if (strlen(name) != 1 + shown + suffix + 6 || name[0] != '.' ||
        memcmp(name + 1, base, shown) != 0 ||
        memcmp(name + 1 + shown, OUTFILE_TMP_SUFFIX, suffix) != 0)
        return 0;
    for (const char *x = name + 1 + shown + suffix; *x; x++)
        if (!((*x >= 'A' && *x <= 'Z') || (*x >= 'a' && *x <= 'z') || (*x >= '0' && *x <= '9')))
            return 0;
    return 1;
}

int outfile_is_part_name(const char *name)
{
    size_t n = strlen(name), suffix = sizeof OUTFILE_TMP_SUFFIX - 1;
    /* "." + at least one byte of the base + the suffix */
    if (n < suffix + 2 || name[0] != '.' || strchr(name, '/') || n > NAME_MAX)
        return 0;
    return strncmp(name + n - suffix, OUTFILE_TMP_SUFFIX, suffix - 6) == 0;
}

/* Open part `name` in f's directory for `flags` (O_RDONLY or O_RDWR) and
 * check it: a temporary's name, a regular file of ours, at least `need`
 * bytes.  Returns the fd (*st its fstat), or -1 with the message. */
static int outfile_open_part(const outfile *f, const char *path, const char *name, int flags,
                             unsigned long long need, struct stat *st, char *err,
                             size_t errlen)
{
    if (!outfile_is_part_name(name)) {
        snprintf(err, errlen, "cannot resume '%s': '%s' is not the name of a pwalk temporary",
                 path, name);
        return -1;
    }
    int fd = openat(f->dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, st) != 0) {
        snprintf(err, errlen, "cannot resume '%s': part '%s': %s", path, name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* a part is a file this module created: one name, ours (a hard link
     * planted under a part's name would make the cut or the removal hit
     * another file) */
    if (!S_ISREG(st->st_mode) || st->st_uid != geteuid() || st->st_nlink != 1) {
        snprintf(err, errlen, "cannot resume '%s': part '%s' %s", path, name,
                 !S_ISREG(st->st_mode)       ? "is not a regular file"
                 : st->st_uid != geteuid() ? "belongs to another user"
                                           : "has other hard links");
        close(fd);
        return -1;
    }
    if ((unsigned long long)st->st_size < need) {
        snprintf(err, errlen,
                 "cannot resume '%s': part '%s' is %llu bytes, the checkpoint has %llu", path,
                 name, (unsigned long long)st->st_size, need);
        close(fd);
        return -1;
    }
    return fd;
}

int outfile_resume(outfile *f, const char *path, const char *tmp_name,
                   unsigned long long length, char *err, size_t errlen)
{
    outfile_reset(f);
    struct stat st;
    if (strcmp(path, "-") == 0) {
        snprintf(err, errlen, "cannot resume '-': standard output cannot be continued");
        return -1;
    }
    if (outfile_locate(f, path) != 0) {
        snprintf(err, errlen, "cannot resume '%s': %s", path, strerror(errno));
        outfile_keep(f);
        return -1;
    }
    f->fd = outfile_open_part(f, path, tmp_name, O_RDWR, length, &st, err, errlen);
    if (f->fd < 0) {
        outfile_keep(f);
        return -1;
    }
    f->tmp_dev = st.st_dev;
    f->tmp_ino = st.st_ino;
    f->tmp_name = strdup(tmp_name);
    f->final_path = strdup(path);
    int bad = !f->tmp_name || !f->final_path ? ENOMEM : 0;
    /* bytes past the checkpoint are rows of directories that will be read
     * again: overwritten from `length` on, and what is left of them cut at
     * the next sync -- not now, so that a resume refused later (another
     * sink's part missing) leaves this part as it was */
    f->cut_pending = (unsigned long long)st.st_size > length;
    if (!bad && lseek(f->fd, (off_t)length, SEEK_SET) < 0)
        bad = errno;
    if (!bad && pthread_mutex_init(&f->lock, NULL) != 0)
        bad = EAGAIN;
    if (bad) {
        snprintf(err, errlen, "cannot resume '%s': part '%s': %s", path, tmp_name,
                 strerror(bad));
        outfile_keep(f);
        return -1;
    }
    f->lock_ready = 1;
    f->written = f->flushed = length;
    return 0;
}

int outfile_adopt_part(outfile *f, const char *tmp_name)
{
    if (!outfile_is_part_name(tmp_name))
        return -1;
    char **grown = realloc(f->parts, (f->part_count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    f->parts = grown;
    f->parts[f->part_count] = strdup(tmp_name);
    if (!f->parts[f->part_count])
        return -1;
    f->part_count++;
    return 0;
}

/* Copy [from, to) of in to out's position with read + write.  0 or an
 * errno. */
static int outfile_copy_plain(int in, int out, unsigned long long from, unsigned long long to)
{
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf)
        return ENOMEM;
    int e = 0;
    while (!e && from < to) {
        size_t want = to - from < CHUNK ? (size_t)(to - from) : CHUNK;
        ssize_t n = pread(in, buf, want, (off_t)from);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? errno : EIO; /* 0: the part shrank under us */
            break;
        }
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                e = w < 0 ? errno : EIO;
                break;
            }
            done += w;
        }
        from += (unsigned long long)n;
    }
    free(buf);
    return e;
}

/* The same with copy_file_range (a reflink or a server-side copy where
 * the filesystem has one), read + write where it cannot. */
static int outfile_copy(int in, int out, unsigned long long from, unsigned long long to)
{
    loff_t off = (loff_t)from;
    while ((unsigned long long)off < to) {
        unsigned long long left = to - (unsigned long long)off;
        ssize_t n = copy_file_range(in, &off, out, NULL, left < (1u << 30) ? left : (1u << 30), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                      errno == EOPNOTSUPP || errno == EBADF))
            return outfile_copy_plain(in, out, (unsigned long long)off, to);
        if (n <= 0)
            return n < 0 ? errno : EIO;
    }
    return 0;
}

int outfile_append_part(outfile *f, const char *tmp_name, unsigned long long from,
                        unsigned long long to, char *err, size_t errlen)
{
    const char *path = f->final_path ? f->final_path : "?";
    if (!f->lock_ready || f->is_stdout || f->fd < 0 || from > to) {
        snprintf(err, errlen, "cannot resume '%s': part '%s': %s", path, tmp_name,
                 from > to ? "its header is longer than its data" : "not open");
        return -1;
    }
    int twice = f->tmp_name && strcmp(tmp_name, f->tmp_name) == 0;
    for (size_t i = 0; i < f->part_count; i++)
        twice |= strcmp(tmp_name, f->parts[i]) == 0;
    if (twice) {
        snprintf(err, errlen, "cannot resume '%s': part '%s' is named twice", path, tmp_name);
        return -1;
    }
    struct stat st;
    int in = outfile_open_part(f, path, tmp_name, O_RDONLY, to, &st, err, errlen);
    if (in < 0)
        return -1;
    int same = st.st_dev == f->tmp_dev && st.st_ino == f->tmp_ino;
    int e = same ? EINVAL : outfile_copy(in, f->fd, from, to);
    close(in);
    if (e == 0 && outfile_adopt_part(f, tmp_name) != 0)
        e = ENOMEM;
    if (e) {
        snprintf(err, errlen, "cannot resume '%s': appending part '%s': %s", path, tmp_name,
                 same ? "it is the file being continued" : strerror(e));
        f->failed = 1;
        f->failed_errno = e;
        return -1;
    }
    f->written += to - from;
    return 0;
}

void outfile_keep(outfile *f)
{
    free(f->tmp_name);
    f->tmp_name = NULL;
    outfile_drop_parts(f, 0);
    outfile_abort(f);
}
