/*
 * pwalk/sys/builtin.h -- for drivers, not for ordinary embedders: plugins
 * linked into the caller's own binary instead of dlopen-ed from the plugin
 * path (libgit2's include/git2/sys split: hooks for those who extend pwalk).
 *
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef PWALK_SYS_BUILTIN_H
#define PWALK_SYS_BUILTIN_H

#include "pwalk/plugin.h"
#include "pwalk/pwalk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A sink of s whose plugin name equals plugin->name uses plugin (checked
 * like a loaded one: ABI version, options) without searching the plugin
 * path or dlopen.  plugin must stay valid until pwalk_scan_free(s).
 * Returns 0, or PWALK_FAILED when out of memory.  Owner thread. */
int pwalk_scan_add_builtin_plugin(pwalk_scan *s, const pwalk_plugin *plugin);

#ifdef __cplusplus
}
#endif

#endif
