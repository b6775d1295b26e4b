/*
 * loader.h -- finding, loading and vetting plugins.
 *
 * A plugin is looked up by name in, in order: the pipeline's plugin_path
 * directories, the directories in $PWALK_PLUGIN_PATH (colon-separated), and
 * the engine's own plugin directory (<dir of the running executable>/plugins,
 * or, for an installed engine, <that dir>/../lib/pwalk/plugins).
 * In each directory D, "D/NAME.so" and then "D/NAME/NAME.so" are tried.  A
 * name ending in ".so" (or containing '/') is a path used as is.
 *
 * Everything the plugin declares is checked before any of its callbacks run,
 * and each refusal names the exact mismatch (file, expected, found).
 *
 * Running as root, a plugin's constructor runs as root the moment it is
 * dlopen()ed, before any declaration can be checked; so as root the path
 * itself is vetted first (loader_open below, loader.c for the reasons):
 * nothing on it may be replaceable, or redirectable, by another user.
 */
#ifndef PWALK_ENGINE_LOADER_H
#define PWALK_ENGINE_LOADER_H

#include <stddef.h>

#include "pwalk/plugin.h"

typedef struct loader_plugin {
    void *handle;               /* dlopen handle                         */
    const pwalk_plugin *plugin; /* the plugin's description (its memory) */
    char *path;                 /* the file that was loaded              */
} loader_plugin;

/* Where the engine's own plugins live: "<dir of /proc/self/exe>/plugins"
 * (the build tree), else "<its parent>/lib/pwalk/plugins" when that
 * directory exists (an installed prefix); when neither exists and the
 * library is a shared libpwalk.so (an embedding program elsewhere), the
 * same two places relative to the library's own directory, so
 * PREFIX/lib/libpwalk.so.0 finds PREFIX/lib/pwalk/plugins.  Returns a
 * malloc'd string or NULL. */
char *loader_builtin_dir(void);

/* Find NAME's file.  dirs[0..ndirs-1] come first (the pipeline's
 * plugin_path); then $PWALK_PLUGIN_PATH; then loader_builtin_dir().
 * Returns 0 with a malloc'd path in *path, or -1 with "plugin 'NAME' not
 * found (searched: D1, D2, ...)" in err. */
int loader_find(const char *name, char *const *dirs, size_t ndirs, char **path,
                char *err, size_t errlen);

/* A pipeline's `plugin:` NAME as the pipeline file SOURCE means it: a
 * relative path ("x.so", "lib/x.so") is relative to SOURCE's directory, as
 * plugin_path entries are.  A plain name, an absolute path, or a SOURCE
 * that is not a file path (NULL, "<built-in>", no '/') gives NAME as is.
 * Returns a malloc'd string or NULL. */
char *loader_plugin_relative(const char *name, const char *source);

/* Find, dlopen (RTLD_NOW | RTLD_LOCAL) and check the plugin:
 *  - as root (euid 0), before dlopen: refuse unless the file and every
 *    directory on its path from / are owned by root and not writable by
 *    group or others (the sticky bit does not make /tmp safe), and every
 *    symlink on the way is owned by root; then dlopen the vetted canonical
 *    path.  "plugin 'NAME': refusing to load PATH as root: REASON".  Not
 *    root: no such check, a user loads what they can read;
 *  - the entry function pwalk_plugin_entry_v1 exists (if not, but a _vN of
 *    another major does, say which major it was built for);
 *  - struct_size covers ABI 1.0's pwalk_plugin, abi_major == 1,
 *    abi_minor <= PWALK_ABI_MINOR;
 *  - plugin->name equals the name the pipeline used (for a path: the file's
 *    base name without ".so");
 *  - create and consume are set, threading is a known mode, every option
 *    spec has a name and a known type.
 * Returns 0, or -1 with a one-line message naming the file in err. */
int loader_open(const char *name, char *const *dirs, size_t ndirs,
                loader_plugin *out, char *err, size_t errlen);

/* dlclose and free; safe on a zeroed or already-closed struct. */
void loader_close(loader_plugin *lp);

#endif
