/*
 * journal.c -- see journal.h.  (Placeholder bodies: the real ones follow.)
 */
#include "journal.h"

#include <stdio.h>
#include <string.h>

int journal_write(const char *path, const journal *j, char *err, size_t errlen)
{
    (void)j;
    snprintf(err, errlen, "checkpoint '%s': not implemented", path);
    return -1;
}

int journal_read(const char *path, journal *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(err, errlen, "checkpoint '%s': not implemented", path);
    return -1;
}

int journal_check(const char *path, const journal *j, const char *version,
                  char *const *pipeline, size_t count, char *err, size_t errlen)
{
    (void)j; (void)version; (void)pipeline; (void)count;
    snprintf(err, errlen, "checkpoint '%s': not implemented", path);
    return -1;
}

void journal_free(journal *j)
{
    if (j)
        memset(j, 0, sizeof *j);
}

int journal_remove(const char *path, char *err, size_t errlen)
{
    snprintf(err, errlen, "checkpoint '%s': not implemented", path);
    return -1;
}
