/*
 * remote.h -- directories moving between walks of different processes
 * (pwalk-mpi's ranks): the wire format of a directory record, the check a
 * received message passes before anything in it is used, and export /
 * import between a running walk and such messages.
 *
 * The walk itself knows nothing of records: it hands out and takes in
 * directories through the narrow hook in walk.h ("Walks shared between
 * processes").  Both ends are the same build on the same architecture (one
 * MPI job), so a record carries a struct stat as the sender saw it.
 */
#ifndef PWALK_ENGINE_REMOTE_H
#define PWALK_ENGINE_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "walk.h"

/* One directory: this header, the display path (path_len bytes, no NUL),
 * zeros up to a multiple of REMOTE_RECORD_ALIGN. */
typedef struct remote_record {
    uint32_t size;              /* the whole record, padded               */
    uint32_t root_index;
    uint32_t path_len;
    int32_t depth;
    uint64_t parent_ino;
    uint64_t root_dev;
    uint64_t root_ino;
    struct stat st;             /* the sender's lstat of the directory    */
} remote_record;

#define REMOTE_RECORD_ALIGN 8

static inline size_t remote_record_size(size_t path_len)
{
    return (sizeof(remote_record) + path_len + REMOTE_RECORD_ALIGN - 1) &
           ~(size_t)(REMOTE_RECORD_ALIGN - 1);
}

/* Append d's record to *buf (realloc'ed; *len grows): a checkpoint's
 * pending directories are the same records.  0, or -1 out of memory. */
int remote_encode(const walk_dir *d, char **buf, size_t *len);

/* Take up to max queued directories (oldest, i.e. biggest subtrees, first)
 * out of the walk and append their records to *buf (realloc'ed; *len
 * grows).  Returns how many were taken (0: none could be), -1 when out of
 * memory.  Only from the walk's tick(). */
long remote_export(walk_run *run, size_t max, char **buf, size_t *len);

/* Queue the directories in records exported by another walk.  Returns the
 * number queued, or -1 with a message when remote_check() refuses the
 * records (nothing is queued then) or memory ran out.  Only from the
 * walk's tick(). */
long remote_import(walk_run *run, const char *buf, size_t len, char *err, size_t errlen);

/* Check records from another process before any is used: each one whole
 * (size = remote_record_size(path_len), inside len), a directory, under a
 * known root, its path that root's display path, '/' (none after "/"),
 * then one or more components that are neither empty, "." nor ".." and
 * hold no NUL -- so re-opening it one component at a time can only go
 * down from the root.  Returns the number of records, or -1 with a
 * message naming the byte offset of the first bad one. */
long remote_check(char *const *roots, size_t root_count, const char *buf, size_t len,
                  char *err, size_t errlen);

#endif
