/*
 * statx_enosys.c -- LD_PRELOAD shim for slow_test.py: statx() fails with
 * ENOSYS, as on a kernel older than 4.11 (or EINVAL, with
 * STATX_SHIM_ERRNO=EINVAL), so that scan.lazy_stat's fallback to fstatat
 * is exercised.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf)
{
    (void)dirfd;
    (void)path;
    (void)flags;
    (void)mask;
    (void)buf;
    /* STATX_SHIM_ERRNO=EINVAL: a kernel or filesystem refusing the flag */
    const char *e = getenv("STATX_SHIM_ERRNO");
    errno = e && strcmp(e, "EINVAL") == 0 ? EINVAL : ENOSYS;
    return -1;
}
