/*
 * oswalk_readahead.h -- directory listings read ahead of an os.walk()-style
 * consumer, for the Python package's pwalk.walk().
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Why this is not the engine's walk: os.walk() hands out each directory's
 * names in readdir order, lets the caller prune or reorder the next level
 * after every step, follows symlinks on request, and classifies names as
 * os.scandir() does (d_type, a stat() for symlinks).  The engine's walk
 * lstat()s every name, never follows a link, emits rows in no particular
 * order and cannot be steered while it runs.  So the consumer drives here:
 * reader threads list the directories it is expected to ask for next (in
 * its depth-first order), and it takes each listing when it gets there.
 *
 * Threads: the readers never call back into the consumer; they hand
 * finished listings over under one mutex.  The consumer never waits for a
 * directory nobody is reading: a directory that is still queued is read on
 * the consumer's own thread instead, so a full buffer cannot deadlock; and
 * while a reader finishes the one it needs, it reads the next queued ones
 * itself rather than sleep.
 *
 * Memory: readers stop taking work while the listings read ahead but not
 * yet taken exceed max_bytes or max_dirs.
 *
 * Pure C (no Python): the extension in python/ converts listings to lists.
 */
#ifndef PWALK_PYTHON_OSWALK_READAHEAD_H
#define PWALK_PYTHON_OSWALK_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per-name flags, computed as os.scandir()'s DirEntry would. */
#define WA_DIR 0x1u   /* is_dir(): follows a symlink; any stat failure: no */
#define WA_LINK 0x2u  /* is_symlink()                                      */
#define WA_ASCII 0x4u /* 7-bit name: decodes to str without the codec      */

typedef struct wa_options {
    unsigned readers;           /* reader threads; 0 = read on demand only */
    int followlinks;            /* read ahead into symlinked directories  */
    size_t max_bytes;           /* read-ahead buffer (listing bytes)      */
    size_t max_dirs;            /* read-ahead buffer (directories)        */
    char *const *skip_dirs;     /* directory names left out of listings   */
    size_t skip_dir_count;
} wa_options;

typedef struct wa_walker wa_walker;
typedef struct wa_node wa_node;

/* One directory as os.scandir() saw it. */
typedef struct wa_listing {
    int error;                  /* 0, or the errno of opendir/readdir:
                                   then there are no names                */
    size_t count;
    size_t ndirs;               /* names with WA_DIR                      */
    const char *names;          /* count names, NUL-terminated, packed    */
    const uint32_t *lens;
    const uint8_t *flags;
} wa_listing;

/* Called about every 50 ms while wa_take() waits for a reader; non-zero
 * abandons the wait (wa_take then returns NULL with errno EINTR). */
typedef int (*wa_poll_fn)(void *ctx);

/* Start the readers.  Returns 0, or -1 with errno. */
int wa_create(const wa_options *o, wa_walker **out);

/* The listing of PATH (len bytes, no NUL inside): the one read ahead if
 * there is one, waiting while a reader is on it, else read now on this
 * thread.  The subdirectories it names become read-ahead candidates.
 * Returns a node the caller holds until wa_release(), or NULL with errno
 * (ENOMEM, or EINTR when poll asked to stop). */
wa_node *wa_take(wa_walker *w, const char *path, size_t len, wa_poll_fn poll, void *ctx);

void wa_listing_of(const wa_node *n, wa_listing *out);

/* The caller has copied the names: free them early. */
void wa_drop_listing(wa_walker *w, wa_node *n);

/* The consumer will visit only these subdirectories of n, in this order:
 * read-ahead of the others (and everything below them) is cancelled, and
 * the kept ones move to the front of the read-ahead order.  Returns 0 or
 * -1 (ENOMEM; nothing is cancelled then). */
int wa_prune(wa_walker *w, wa_node *n, const char *const *names, const size_t *lens,
             size_t count);

/* Is PATH a directory queued or read ahead as a subdirectory that is not a
 * symlink?  (The consumer's os.path.islink() shortcut; only meaningful
 * with followlinks off, when symlinks are never read ahead.) */
int wa_is_known_dir(wa_walker *w, const char *path, size_t len);

/* The consumer is done with n (its untaken subdirectories stay queued:
 * prune first to cancel them). */
void wa_release(wa_walker *w, wa_node *n);

/* Stop and join the readers, free everything, including nodes still held
 * by the consumer. */
void wa_destroy(wa_walker *w);

typedef struct wa_stats {
    uint64_t read_ahead;        /* listings read by readers               */
    uint64_t read_inline;       /* listings read on the consumer's thread */
    uint64_t waited;            /* takes that waited for a reader         */
    uint64_t cancelled;         /* read-ahead work cancelled by pruning   */
    size_t peak_bytes;          /* largest read-ahead buffer              */
    size_t peak_dirs;
    unsigned readers;           /* threads running                        */
} wa_stats;

void wa_get_stats(wa_walker *w, wa_stats *s);

#ifdef __cplusplus
}
#endif

#endif
