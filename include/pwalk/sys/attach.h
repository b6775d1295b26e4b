/*
 * pwalk/sys/attach.h -- for programs that consume a scan in process, not
 * for ordinary embedders: hand a pointer of yours to one sink's plugin.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * A plugin that delivers to the program running the scan rather than to a
 * file (walk-iterator: pwalk/walk_iterator.h) needs to meet that program.
 * The program attaches a pointer to the sink by name before the run; the
 * plugin reads it in create() with host->attachment(ctx) (pwalk/plugin.h,
 * ABI 1.2).  What the pointer points to is a contract between that plugin
 * and the program (for walk-iterator, a pwalk_iter_consumer); the library
 * only carries it.  It is the scan's own: nothing is process-wide, so
 * concurrent scans each attach their own.
 */
#ifndef PWALK_SYS_ATTACH_H
#define PWALK_SYS_ATTACH_H

#include "pwalk/pwalk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Attach ptr to the sink named sink of s (replacing an earlier one; NULL
 * detaches).  ptr is not copied, read or freed by the library: it must
 * stay valid until pwalk_scan_run() returned.  Returns 0, or PWALK_USAGE
 * with "no sink named 'NAME'" in err.  Owner thread, before
 * pwalk_scan_run(). */
int pwalk_scan_attach(pwalk_scan *s, const char *sink, void *ptr, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
