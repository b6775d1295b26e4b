/*
 * outfile.h -- an output file shared by worker threads and published
 * atomically: written as ".NAME.pwalk-tmp-XXXXXX" beside its final name and
 * renamed only by outfile_commit(), so a report under its final name is
 * always complete.  "-" means stdout (no temporary, no rename).
 *
 * The directory is opened once, by outfile_open(), resolving the path as
 * given (an admin's path may hold symlinks); from then on the temporary is
 * created, renamed and removed relative to that directory fd, never by a
 * path string.  A user who can write a directory on the path and swaps it
 * for a symlink mid-scan therefore cannot redirect the rename into another
 * directory, and outfile_commit() refuses to publish when the path no
 * longer leads to the directory it opened (the scan fails, exit 3).
 */
#ifndef PWALK_OUTFILE_H
#define PWALK_OUTFILE_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* outfile_open_mode(): the default mode -- 0600 when running as root (a
 * root scan's report names what sits in 0700 directories), otherwise 0666
 * less the umask, like any new file. */
#define OUTFILE_MODE_DEFAULT (-1)

typedef struct outfile {
    char *final_path;       /* as given, for messages               */
    char *dir_path;         /* its directory as given ("." if none) */
    char *base;             /* the final name inside dirfd          */
    char *tmp_name;         /* the temporary inside dirfd; NULL for stdout or once renamed */
    int dirfd;              /* the directory, opened once           */
    int dir_syncable;       /* dirfd was opened for reading: fsync works */
    dev_t dir_dev, tmp_dev;
    ino_t dir_ino, tmp_ino;
    int fd;
    int is_stdout;
    int failed;             /* a write failed: sticky               */
    int failed_errno;       /* why, repeated by later calls         */
    pthread_mutex_t lock;   /* whole buffers, never interleaved     */
    int lock_ready;
    unsigned long long written;   /* bytes appended so far              */
    unsigned long long flushed;   /* write-back started up to here      */
    int prepared;           /* synced and closed: only the rename is left */
} outfile;

/* outfile_open_mode(f, path, OUTFILE_MODE_DEFAULT, ...). */
int outfile_open(outfile *f, const char *path, char *err, size_t errlen);

/* Open PATH's directory and create the temporary file in it with mode
 * (OUTFILE_MODE_DEFAULT, or permission bits applied as given, umask
 * aside).  Everything that would make the final rename fail is checked
 * here, before the scan: a missing directory, a directory under the final
 * name, a name longer than the filesystem takes.  Returns 0, or -1 with
 * "cannot create 'PATH': reason" in err (f then needs no abort). */
int outfile_open_mode(outfile *f, const char *path, int mode, char *err, size_t errlen);

/* An option's text such as "0640" or "640" (octal permission bits, at most
 * 0777) as a mode for outfile_open_mode().  Returns 0, or -1 if text is not
 * one. */
int outfile_parse_mode(const char *text, int *mode);

/* Append len bytes in one piece (thread-safe; pieces from different threads
 * never interleave).  Returns 0, or -1 with "write to 'PATH' failed:
 * reason"; after a failure every write and the commit fail the same way. */
int outfile_write(outfile *f, const void *buf, size_t len, char *err, size_t errlen);

/* 0 if PATH's directory still resolves to the directory opened by
 * outfile_open() and the temporary in it is still the file created then
 * (stdout: always); otherwise -1 with "cannot rename into 'PATH': output
 * directory 'DIR' was replaced during the scan" (or what became of the
 * temporary).  Nothing is closed or removed. */
int outfile_check(const outfile *f, char *err, size_t errlen);

/* Everything of the commit that can fail on the data: a failed write,
 * fdatasync, close (NFS reports a failed write-back only there), and
 * outfile_check(): a replaced directory fails the scan before any output of
 * the pipeline is renamed.  The file keeps its temporary name.  Returns 0, or -1 with a message naming PATH
 * (f is then released and the temporary file gone). */
int outfile_prepare(outfile *f, char *err, size_t errlen);

/* outfile_prepare() unless done, then: fdatasync (write-back was started
 * every OUTFILE_WRITEBACK bytes as the file grew, so this waits for the
 * tail only), close, check that the directory's path still leads to the
 * directory opened at the start and that the temporary is still the file
 * created then ("output directory 'DIR' was replaced during the scan"
 * otherwise: nothing is published), rename into place relative to the
 * directory fd, fsync the directory (stdout: only reports a failed write).
 * Returns 0 or -1 with a message naming PATH; either way f is released and
 * the temporary file is gone. */
int outfile_commit(outfile *f, char *err, size_t errlen);

/* outfile_commit() to the final name plus suffix (".incomplete": a record
 * kept under a name that cannot pass for the complete file). */
int outfile_commit_suffix(outfile *f, const char *suffix, char *err, size_t errlen);

/* Close and remove the temporary file; idempotent, safe after commit. */
void outfile_abort(outfile *f);

#ifdef __cplusplus
}
#endif

#endif
