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
    int cut_pending;        /* resumed: bytes past `written` are cut at the
                               next sync, not at the resume itself       */
    char **parts;           /* other temporaries whose bytes this one holds
                               (outfile_append_part): removed with it by
                               commit or abort, kept by outfile_keep   */
    size_t part_count;
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

/* Close and remove the temporary file (and the parts it absorbed);
 * idempotent, safe after commit. */
void outfile_abort(outfile *f);

/* ---- Checkpoints (a suspended scan continued by another process) ----
 *
 * A checkpoint makes the temporary durable and notes its name and length;
 * a resumed scan reopens it by that name in PATH's directory, cuts off what
 * was written after the checkpoint (those directories are read again) and
 * appends from there.  Names of parts come from a journal: they are
 * checked to be temporaries of this module (".NAME.pwalk-tmp-XXXXXX", no
 * '/'), opened with O_NOFOLLOW relative to the directory, and must be
 * regular files of this user. */

/* A checkpoint: everything written so far durable (fdatasync), *length =
 * bytes in the temporary.  Thread-safe with writers (takes the lock).
 * Returns 0, or -1 with a message naming PATH (a failed write; stdout,
 * which cannot be continued by another process). */
int outfile_sync(outfile *f, unsigned long long *length, char *err, size_t errlen);

/* Continue a suspended scan's temporary: open PATH's directory exactly as
 * outfile_open does, open tmp_name in it, refuse if shorter than length
 * ("cannot resume 'PATH': part 'NAME' is N bytes, the checkpoint has M"),
 * cut it back to length (only when longer: a part of the right length is
 * left untouched) and append from there (written = length).  The part
 * keeps its mode.  Returns 0, or -1 with "cannot resume 'PATH': ..." (f
 * then needs no abort, and nothing was changed). */
int outfile_resume(outfile *f, const char *path, const char *tmp_name,
                   unsigned long long length, char *err, size_t errlen);

/* Append bytes [from, to) of another part (tmp_name in f's directory, as
 * outfile_resume takes it: a suspended scan's temporary this one absorbs,
 * e.g. another pwalk-mpi rank's) with copy_file_range, and remember the
 * name: the part is removed when f is committed or aborted, kept by
 * outfile_keep.  Not thread-safe with writers (before the walk).  Returns
 * 0, or -1 with "cannot resume 'PATH': part 'NAME' ..." (missing, shorter
 * than `to`, not a regular file of ours) or a failed copy. */
int outfile_append_part(outfile *f, const char *tmp_name, unsigned long long from,
                        unsigned long long to, char *err, size_t errlen);

/* Remember a part absorbed in an earlier session (its name carried in a
 * checkpoint state): removed with f as outfile_append_part's are.
 * Returns 0, or -1 (a name that is no part, out of memory). */
int outfile_adopt_part(outfile *f, const char *tmp_name);

/* Is name one of this module's temporaries (".NAME.pwalk-tmp-XXXXXX")? */
int outfile_is_part_name(const char *name);

/* Is name exactly a temporary this module makes for the final name base
 * (".BASE.pwalk-tmp-XXXXXX", a long BASE cut as outfile_open cuts it)?
 * Another name's are not: "BASE.g0.rank-0001"'s temporaries are not BASE's. */
int outfile_is_tmp_of(const char *name, const char *base);

/* Suspended: close everything, remove nothing (the temporary and the
 * parts stay for the resume).  f is released as by outfile_abort. */
void outfile_keep(outfile *f);

#ifdef __cplusplus
}
#endif

#endif
