/*
 * outfile.h -- an output file shared by worker threads and published
 * atomically: written as ".NAME.pwalk-tmp-XXXXXX" beside its final name and
 * renamed only by outfile_commit(), so a report under its final name is
 * always complete.  "-" means stdout (no temporary, no rename).
 */
#ifndef PWALK_OUTFILE_H
#define PWALK_OUTFILE_H

#include <pthread.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct outfile {
    char *final_path;
    char *tmp_path;         /* NULL for stdout                      */
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

/* Create the temporary file (mode 0666 & ~umask).  Returns 0, or -1 with
 * "cannot create 'PATH': reason" in err (f then needs no abort). */
int outfile_open(outfile *f, const char *path, char *err, size_t errlen);

/* Append len bytes in one piece (thread-safe; pieces from different threads
 * never interleave).  Returns 0, or -1 with "write to 'PATH' failed:
 * reason"; after a failure every write and the commit fail the same way. */
int outfile_write(outfile *f, const void *buf, size_t len, char *err, size_t errlen);

/* Everything of the commit that can fail on the data: a failed write,
 * fdatasync, close (NFS reports a failed write-back only there).  The file
 * keeps its temporary name.  Returns 0, or -1 with a message naming PATH
 * (f is then released and the temporary file gone). */
int outfile_prepare(outfile *f, char *err, size_t errlen);

/* outfile_prepare() unless done, then: fdatasync (write-back was started every OUTFILE_WRITEBACK bytes as the
 * file grew, so this waits for the tail only), close, rename into place (stdout: only reports a failed
 * write).  Returns 0 or -1 with a message naming PATH; either way f is
 * released and the temporary file is gone. */
int outfile_commit(outfile *f, char *err, size_t errlen);

/* Close and remove the temporary file; idempotent, safe after commit. */
void outfile_abort(outfile *f);

#ifdef __cplusplus
}
#endif

#endif
