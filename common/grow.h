/*
 * grow.h -- room for need elements in a realloc'ed array, the capacity
 * doubling from 64 so that appending one at a time stays amortised O(1).
 *
 * Neutral code: the engine's walk (its batches, arenas and name lists) and
 * the Python package's os.walk read-ahead grow their buffers the same way.
 * Header-only, like outname.h.
 */
#ifndef PWALK_COMMON_GROW_H
#define PWALK_COMMON_GROW_H

#include <stdint.h>
#include <stdlib.h>

/* *buf holds *cap elements of elem bytes; make it hold at least need.
 * 0, or -1 when out of memory or the size overflows (*buf and *cap are
 * then unchanged, the old buffer still valid). */
static inline int grow_array(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    if (elem && ncap > SIZE_MAX / elem)
        return -1;
    void *p = realloc(*buf, ncap * elem);
    if (!p)
        return -1;
    *buf = p;
    *cap = ncap;
    return 0;
}

#endif
