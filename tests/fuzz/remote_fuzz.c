/*
 * remote_fuzz.c -- the check of directory records that pwalk-mpi ranks send
 * each other (remote_check, engine/remote.c) against a reference written
 * from the format in engine/remote.h.
 *
 * A record names a directory for the receiving rank to re-open from its
 * root, one component at a time.  The ranks are one job, but the check is
 * all that stands between a corrupted or hostile message and openat(): a
 * record it passes must be whole, inside the buffer, a directory, and
 * strictly below its root with no "." / ".." / empty component, so the
 * re-open can only go down.  ASan catches any read past the input.
 *
 * Input: the raw message, as MPI would deliver it.  The roots are fixed:
 * an absolute one, "/" (no separator after it) and a relative one with
 * trailing slashes (display path "rel/dir").
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/remote.h"
#include "tests/fuzz/fuzz_check.h"

static char root_data[] = "/data", root_slash[] = "/", root_rel[] = "rel/dir//";
static char *const roots[] = {root_data, root_slash, root_rel};
static const char *const display[] = {"/data/", "/", "rel/dir/"};
#define ROOT_COUNT 3

/* Split the part below the root at '/': every piece a real name. */
static int ref_below(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] == '\0')
            return 0;
        if (i == n || p[i] == '/') {
            size_t len = i - start;
            if (len == 0 || (len == 1 && p[start] == '.') ||
                (len == 2 && p[start] == '.' && p[start + 1] == '.'))
                return 0;
            start = i + 1;
        }
    }
    return 1;
}

static long ref_check(const uint8_t *data, size_t size)
{
    long count = 0;
    size_t off = 0;
    while (off < size) {
        remote_record r;
        if (size - off < sizeof r)
            return -1;
        memcpy(&r, data + off, sizeof r);
        size_t want = (sizeof r + (size_t)r.path_len + 7) / 8 * 8;
        if (r.path_len == 0 || r.size != want || r.size > size - off)
            return -1;
        if (r.root_index >= ROOT_COUNT || (r.st.st_mode & S_IFMT) != S_IFDIR)
            return -1;
        const char *path = (const char *)data + off + sizeof r;
        const char *prefix = display[r.root_index];
        size_t pl = strlen(prefix);
        if (r.path_len < pl || memcmp(path, prefix, pl) != 0 ||
            !ref_below(path + pl, r.path_len - pl))
            return -1;
        off += r.size;
        count++;
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: a read past the message is an ASan report */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    char err[256] = "";
    long got = remote_check(roots, ROOT_COUNT, buf, size, err, sizeof err);
    long want = ref_check(data, size);
    FUZZ_CHECK(got == want, "%zu bytes: check gave %ld (%s), the reference %ld", size, got,
               err, want);
    FUZZ_CHECK(got >= 0 || strstr(err, "at byte ") != NULL, "refused without an offset: '%s'",
               err);
    free(buf);
    return 0;
}
