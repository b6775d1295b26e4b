/*
 * loader.c -- finding, loading and vetting plugins; see loader.h.
 *
 * Everything a plugin declares is checked here, before any of its callbacks
 * runs, because a plugin built against another header would otherwise be
 * misread silently: a wrong struct layout shows up as a crash deep inside
 * the walk, far from its cause.  Each refusal is one line naming the file
 * and the exact mismatch, since the reader is usually a site administrator
 * who did not write the plugin.
 *
 * A constructor in the file runs inside dlopen(), before any of that, so as
 * root the path itself is vetted first ("As root" below): nothing on it may
 * be another user's to replace or redirect.
 */
#define _GNU_SOURCE
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/oneline.h"

/* ABI 1.0's pwalk_plugin ends with destroy: a plugin claiming fewer bytes
 * cannot hold the callbacks the engine is about to read. */
#define LOADER_PLUGIN_SIZE_1_0 \
    (offsetof(pwalk_plugin, destroy) + sizeof(((pwalk_plugin *)0)->destroy))

/* Other majors probed only to explain a refusal; 0 and 2..9 cover every
 * realistic mistake (an old build, a newer header) without a long loop. */
#define LOADER_PROBE_MAJOR_MAX 9

#define LOADER_KNOWN_FLAGS PWALK_PLUGIN_MUTATES_FS

static char *loader_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *loader_join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

static int loader_ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int loader_is_path(const char *name)
{
    return strchr(name, '/') != NULL || loader_ends_with(name, ".so");
}

/* The build tree keeps the plugins beside the binary (bazel-bin/plugins);
 * an installed engine (PREFIX/bin) finds them in PREFIX/lib/pwalk/plugins,
 * relative to the binary so that a prefix still works once moved.  When
 * neither exists, the first is the one a "not found" message names. */
static char *loader_plugin_dir_of(char *bindir)
{
    struct stat st;
    char *beside = loader_join3(bindir, "/", "plugins");
    if (!beside || (stat(beside, &st) == 0 && S_ISDIR(st.st_mode)))
        return beside;
    char *slash = strrchr(bindir, '/');
    if (!slash)
        return beside;
    *slash = '\0';
    char *installed = loader_join3(bindir, "/lib/pwalk", "/plugins");
    if (installed && stat(installed, &st) == 0 && S_ISDIR(st.st_mode)) {
        free(beside);
        return installed;
    }
    free(installed);
    return beside;
}

/* An embedding program linked against an installed libpwalk.so lives
 * anywhere (a site's tool in /opt/site/bin, /usr/bin/python3): when nothing
 * is found beside the executable, the plugins of the prefix the library
 * itself sits in.  dladdr1() on one of its functions gives the library's
 * link map: PREFIX/lib/libpwalk.so.0 -> PREFIX/lib/pwalk/plugins (and a
 * build tree's bazel-bin/libpwalk.so -> bazel-bin/plugins).  Linked into the
 * executable itself (the drivers, the tests), the map is the main
 * program's, with an empty name: the executable was already tried.
 * Returns NULL unless that directory exists. */
static char *loader_library_plugin_dir(void)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (!dladdr1((void *)loader_builtin_dir, &info, (void **)&map, RTLD_DL_LINKMAP) ||
        !map || !map->l_name || !map->l_name[0])
        return NULL;
    char *lib = realpath(map->l_name, NULL);
    char *slash = lib ? strrchr(lib, '/') : NULL;
    char *dir = NULL;
    struct stat st;
    if (slash) {
        *slash = '\0';
        dir = loader_plugin_dir_of(lib);
    }
    free(lib);
    if (dir && !(stat(dir, &st) == 0 && S_ISDIR(st.st_mode))) {
        free(dir);
        dir = NULL;
    }
    return dir;
}

/* The executable's plugin directory DIR when it exists, else the
 * library's when that one does, else DIR (the one "not found" names). */
static char *loader_exe_or_library_dir(char *dir)
{
    struct stat st;
    if (!dir || (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)))
        return dir;
    char *lib = loader_library_plugin_dir();
    if (!lib)
        return dir;
    free(dir);
    return lib;
}

char *loader_builtin_dir(void)
{
    /* /proc/self/exe rather than argv[0]: the engine may be started through
     * a symlink or from PATH, and its plugins sit beside the real binary. */
    size_t cap = 256;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        ssize_t n = readlink("/proc/self/exe", buf, cap);
        if (n < 0) {
            free(buf);
            return loader_library_plugin_dir();
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            char *slash = strrchr(buf, '/');
            if (!slash) {
                free(buf);
                return NULL;
            }
            *slash = '\0';
            char *dir = loader_plugin_dir_of(buf);
            free(buf);
            return loader_exe_or_library_dir(dir);
        }
        free(buf);
        if (cap > (size_t)1 << 20)
            return NULL;
        cap *= 2;
    }
}

char *loader_plugin_relative(const char *name, const char *source)
{
    /* the same rule as plugin_path's: a file's directory, never the cwd
     * the scan happens to be started from (cron, a job script) */
    const char *slash = source ? strrchr(source, '/') : NULL;
    if (!loader_is_path(name) || name[0] == '/' || !slash ||
        strcmp(source, "<built-in>") == 0)
        return loader_strdup(name);
    char *s = malloc((size_t)(slash - source) + strlen(name) + 2);
    if (s)
        sprintf(s, "%.*s/%s", (int)(slash - source), source, name);
    return s;
}

/* A candidate counts when it exists and is not a directory: a file the
 * engine cannot read is still "found", so the administrator hears dlopen's
 * reason instead of a misleading "not found". */
static int loader_candidate(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* The growing "(searched: ...)" list of the not-found message. */
typedef struct loader_list {
    char *text;
    size_t len;
    size_t cap;
    int failed;
} loader_list;

static void loader_list_add(loader_list *l, const char *dir)
{
    size_t add = strlen(dir) + 2;
    if (l->failed)
        return;
    if (l->len + add + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 128;
        while (l->len + add + 1 > cap)
            cap *= 2;
        char *t = realloc(l->text, cap);
        if (!t) {
            l->failed = 1;
            return;
        }
        l->text = t;
        l->cap = cap;
    }
    if (l->len) {
        memcpy(l->text + l->len, ", ", 2);
        l->len += 2;
    }
    memcpy(l->text + l->len, dir, add - 2);
    l->len += add - 2;
    l->text[l->len] = '\0';
}

/* Try D/NAME.so then D/NAME/NAME.so.  Returns 1 and *path when found, 0
 * when not, -1 when out of memory. */
static int loader_try_dir(const char *dir, const char *name, char **path)
{
    char *a = malloc(strlen(dir) + 2 * strlen(name) + 8);
    if (!a)
        return -1;
    sprintf(a, "%s/%s.so", dir, name);
    if (loader_candidate(a)) {
        *path = a;
        return 1;
    }
    sprintf(a, "%s/%s/%s.so", dir, name, name);
    if (loader_candidate(a)) {
        *path = a;
        return 1;
    }
    free(a);
    return 0;
}

int loader_find(const char *name, char *const *dirs, size_t ndirs, char **path,
                char *err, size_t errlen)
{
    *path = NULL;
    if (!name || !*name) {
        oneline_format(err, errlen, "plugin name is empty");
        return -1;
    }
    if (loader_is_path(name)) {
        struct stat st;
        if (stat(name, &st) != 0) {
            oneline_format(err, errlen, "%s: plugin file not found: %s", name, strerror(errno));
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            oneline_format(err, errlen, "%s: is a directory, not a plugin file", name);
            return -1;
        }
        /* dlopen() searches the library path for a name without a slash;
         * "x.so" in a pipeline means the file in the current directory. */
        *path = strchr(name, '/') ? loader_strdup(name) : loader_join3("./", name, "");
        if (!*path) {
            oneline_format(err, errlen, "%s: out of memory", name);
            return -1;
        }
        return 0;
    }

    loader_list searched = {0};
    int r = 0;
    for (size_t i = 0; i < ndirs && r == 0; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        loader_list_add(&searched, dirs[i]);
        r = loader_try_dir(dirs[i], name, path);
    }

    const char *env = getenv("PWALK_PLUGIN_PATH");
    if (r == 0 && env && *env) {
        char *copy = loader_strdup(env);
        if (!copy) {
            r = -1;
        } else {
            char *save = NULL;
            for (char *d = strtok_r(copy, ":", &save); d && r == 0;
                 d = strtok_r(NULL, ":", &save)) {
                loader_list_add(&searched, d);
                r = loader_try_dir(d, name, path);
            }
            free(copy);
        }
    }

    if (r == 0) {
        char *builtin = loader_builtin_dir();
        if (builtin) {
            loader_list_add(&searched, builtin);
            r = loader_try_dir(builtin, name, path);
            free(builtin);
        }
    }

    if (r == 1) {
        free(searched.text);
        return 0;
    }
    if (r < 0 || searched.failed)
        oneline_format(err, errlen, "plugin '%s': out of memory while searching", name);
    else
        oneline_format(err, errlen, "plugin '%s' not found (searched: %s)", name,
                       searched.len ? searched.text : "no directories");
    free(searched.text);
    return -1;
}

/* The name a plugin loaded by path must declare: the file's base name
 * without ".so", so "site/audit.so" is plugin 'audit'. */
static char *loader_expected_name(const char *name)
{
    if (!loader_is_path(name))
        return loader_strdup(name);
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char *e = loader_strdup(base);
    if (e && loader_ends_with(e, ".so"))
        e[strlen(e) - 3] = '\0';
    return e;
}

/* ---- As root: every component of the path, before dlopen ------------------
 *
 * Root loading code from a file someone else can replace, or from a name
 * someone else can point elsewhere, hands them root.  So, as root, the path
 * is walked from / one component at a time with lstat(), symlinks expanded
 * by hand, and each component checked as it is reached:
 *  - a directory must be owned by root and not writable by group or others;
 *    the sticky bit does not help (in /tmp anyone can plant a name, a
 *    symlink or a hard link to any root-owned .so whose constructor would
 *    then run as root);
 *  - a symlink must be owned by root (anyone can make one in a directory
 *    they can write; its target is then walked the same way);
 *  - the file must be a regular file owned by root, not writable by group or
 *    others.
 * POSIX ACLs need no separate look: a named entry granting write shows as
 * the group write bit (the mask).  Not root: nothing is checked, a user loads
 * what they can read, as any program they run could.
 *
 * Between this check and dlopen(): the walk yields the canonical path (no
 * symlinks left) and that path is what dlopen() gets.  Every directory on it
 * and the file itself can then be changed only by root, so no one else can
 * swap anything in between -- the check cannot be raced.  dlopen() of
 * "/proc/self/fd/N" on an fd opened during the walk would close the same
 * window, but the object would be known by that name: $ORIGIN in its
 * RUNPATH, dlerror() text, and the sanitizers' and gdb's symbolizers (which
 * reopen the link map's name) would all see a closed fd's name. */

/* Symlinks followed in one walk, as the kernel's ELOOP limit. */
#define LOADER_MAX_LINKS 40

typedef struct loader_vet {
    char *done;   /* the checked canonical prefix; "" stands for "/"   */
    size_t len;
    char *todo;   /* what is still to walk                             */
    size_t pos;
    int links;    /* symlinks followed so far                          */
    char *why;    /* the refusal, when one is made                     */
    size_t whylen;
} loader_vet;

/* 0 when ST (a directory, or the plugin file) can be changed by root only;
 * else 1 with the reason in v->why. */
static int loader_vet_owner_mode(loader_vet *v, const char *what, const char *object,
                                 const struct stat *st)
{
    if (st->st_uid != 0) {
        snprintf(v->why, v->whylen, "%s %s is owned by uid %lu, not root", what, object,
                 (unsigned long)st->st_uid);
        return 1;
    }
    mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);
    if (w && !S_ISLNK(st->st_mode)) {
        const char *who = w == (S_IWGRP | S_IWOTH) ? "group and others"
                          : w == S_IWGRP         ? "group"
                                                 : "others";
        snprintf(v->why, v->whylen, "%s %s is writable by %s (mode %04o)", what, object, who,
                 (unsigned)(st->st_mode & 07777));
        return 1;
    }
    return 0;
}

/* The next component of v->todo into *comp (length *clen); 0 at the end.
 * *last: no further component follows it. */
static int loader_vet_next(loader_vet *v, const char **comp, size_t *clen, int *last)
{
    const char *t = v->todo + v->pos;
    while (*t == '/')
        t++;
    if (!*t)
        return 0;
    const char *e = strchr(t, '/');
    *clen = e ? (size_t)(e - t) : strlen(t);
    *comp = t;
    v->pos = (size_t)(t + *clen - v->todo);
    const char *rest = v->todo + v->pos;
    while (*rest == '/')
        rest++;
    *last = *rest == '\0';
    return 1;
}

/* v->done is a symlink (its directory: v->done's first PARENT bytes): walk
 * its target, then the rest of v->todo.  0, or -1 with v->why set. */
static int loader_vet_link(loader_vet *v, size_t parent, const struct stat *st)
{
    const char *at = v->done;
    if (loader_vet_owner_mode(v, "symlink", at, st))
        return -1;
    if (++v->links > LOADER_MAX_LINKS) {
        snprintf(v->why, v->whylen, "too many levels of symbolic links at %s", at);
        return -1;
    }
    size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : PATH_MAX;
    char *target = malloc(cap);
    ssize_t n = target ? readlink(at, target, cap) : -1;
    if (n < 0 || (size_t)n >= cap) {
        /* changed since lstat (only root could) or out of memory */
        snprintf(v->why, v->whylen, "cannot read symlink %s: %s", at,
                 n < 0 ? strerror(errno) : "it changed while being read");
        free(target);
        return -1;
    }
    target[n] = '\0';
    char *todo = loader_join3(target, "/", v->todo + v->pos);
    free(target);
    if (!todo) {
        snprintf(v->why, v->whylen, "out of memory");
        return -1;
    }
    free(v->todo);
    v->todo = todo;
    v->pos = 0;
    v->len = todo[0] == '/' ? 0 : parent;
    v->done[v->len] = '\0';
    return 0;
}

/* Append "/" + COMP to v->done; 0, or -1 when out of memory. */
static int loader_vet_push(loader_vet *v, const char *comp, size_t clen)
{
    char *d = realloc(v->done, v->len + clen + 2);
    if (!d)
        return -1;
    v->done = d;
    d[v->len] = '/';
    memcpy(d + v->len + 1, comp, clen);
    v->len += clen + 1;
    d[v->len] = '\0';
    return 0;
}

/* Walk v->todo (absolute) from /.  0 with the file's canonical path in
 * v->done, or -1 with the reason in v->why. */
static int loader_vet_walk(loader_vet *v)
{
    struct stat st;
    if (lstat("/", &st) != 0 || loader_vet_owner_mode(v, "directory", "/", &st))
        return -1;
    const char *comp;
    size_t clen;
    int last;
    while (loader_vet_next(v, &comp, &clen, &last)) {
        if (clen == 1 && comp[0] == '.')
            continue;
        if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
            /* v->done has no symlinks left: its parent is the real one, and
             * was checked on the way down */
            while (v->len > 0 && v->done[--v->len] != '/')
                ;
            v->done[v->len] = '\0';
            continue;
        }
        size_t parent = v->len;
        if (loader_vet_push(v, comp, clen) != 0) {
            snprintf(v->why, v->whylen, "out of memory");
            return -1;
        }
        if (lstat(v->done, &st) != 0) {
            snprintf(v->why, v->whylen, "cannot check %s: %s", v->done, strerror(errno));
            return -1;
        }
        if (S_ISLNK(st.st_mode)) {
            if (loader_vet_link(v, parent, &st) != 0)
                return -1;
            continue;
        }
        if (!last) {
            if (!S_ISDIR(st.st_mode)) {
                snprintf(v->why, v->whylen, "%s is not a directory", v->done);
                return -1;
            }
            if (loader_vet_owner_mode(v, "directory", v->done, &st))
                return -1;
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            snprintf(v->why, v->whylen, "%s is not a regular file", v->done);
            return -1;
        }
        return loader_vet_owner_mode(v, "the file", v->done, &st) ? -1 : 0;
    }
    snprintf(v->why, v->whylen, "%s is a directory, not a file", v->len ? v->done : "/");
    return -1;
}

/* As root: PATH (as found for NAME) passes the walk above, and *canon is
 * the path to hand to dlopen().  0, or -1 with
 * "plugin 'NAME': refusing to load PATH as root: REASON" in err. */
static int loader_check_root_safe(const char *name, const char *path, char **canon, char *err,
                                  size_t errlen)
{
    char why[1024] = "out of memory";
    loader_vet v = {.why = why, .whylen = sizeof why};
    *canon = NULL;
    if (path[0] == '/') {
        v.todo = loader_strdup(path);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd)
            snprintf(why, sizeof why, "cannot get the current directory: %s", strerror(errno));
        else
            v.todo = loader_join3(cwd, "/", path);
        free(cwd);
    }
    v.done = calloc(1, 1);
    int rc = v.todo && v.done ? loader_vet_walk(&v) : -1;
    if (rc == 0) {
        *canon = v.done;
        v.done = NULL;
    } else {
        char *want = loader_expected_name(name);
        oneline_format(err, errlen, "plugin '%s': refusing to load %s as root: %s",
                       want ? want : name, path, why);
        free(want);
    }
    free(v.done);
    free(v.todo);
    return rc;
}

/* ISO C has no conversion from void * to a function pointer; POSIX
 * guarantees the representation is the same, so copy the bits. */
static pwalk_plugin_entry_fn loader_sym(void *handle, const char *symbol)
{
    void *p = dlsym(handle, symbol);
    pwalk_plugin_entry_fn fn = NULL;
    if (p)
        memcpy(&fn, &p, sizeof fn);
    return fn;
}

static int loader_probe_major(void *handle)
{
    char sym[64];
    for (int m = 0; m <= LOADER_PROBE_MAJOR_MAX; m++) {
        if (m == PWALK_ABI_MAJOR)
            continue;
        snprintf(sym, sizeof sym, "pwalk_plugin_entry_v%d", m);
        if (dlsym(handle, sym))
            return m;
    }
    return -1;
}

static const char *loader_type_ok(uint32_t type)
{
    switch (type) {
    case PWALK_OPT_STRING: return "string";
    case PWALK_OPT_BOOL: return "bool";
    case PWALK_OPT_INT: return "int";
    case PWALK_OPT_ENUM: return "enum";
    case PWALK_OPT_STRING_LIST: return "string list";
    default: return NULL;
    }
}

/* pwalk_option_spec.flags (ABI 1.2).  A plugin of 1.0/1.1 had a reserved
 * field there that the engine never read, so it is not read now either
 * (options_is_output() guesses by name for those).  From 1.2 on an unknown
 * bit is a mistake, as for pwalk_plugin.flags, and an output is a file
 * name: a string. */
static int loader_check_option_flags(const char *shown, const pwalk_plugin *p,
                                     const pwalk_option_spec *o, char *err, size_t errlen)
{
    if (p->abi_minor < 2)
        return 0;
    if (o->flags & ~(uint32_t)PWALK_OPTION_OUTPUT) {
        oneline_format(err, errlen, "%s: plugin '%s': option '%s' declares unknown flags 0x%x",
                       shown, p->name, o->name, o->flags & ~(uint32_t)PWALK_OPTION_OUTPUT);
        return -1;
    }
    if ((o->flags & PWALK_OPTION_OUTPUT) && o->type != PWALK_OPT_STRING) {
        oneline_format(err, errlen,
                       "%s: plugin '%s': option '%s' is declared an output (a file name) but is "
                       "not a string",
                       shown, p->name, o->name);
        return -1;
    }
    return 0;
}

/* Which ABI and which plugin it is. */
static int loader_check_identity(const char *shown, const char *want, const pwalk_plugin *p,
                                 char *err, size_t errlen)
{
    if (p->struct_size < LOADER_PLUGIN_SIZE_1_0) {
        oneline_format(err, errlen,
                       "%s: pwalk_plugin.struct_size is %u bytes, smaller than ABI %d.0's "
                       "%zu: not built against a pwalk/plugin.h of this major",
                       shown, p->struct_size, PWALK_ABI_MAJOR, (size_t)LOADER_PLUGIN_SIZE_1_0);
        return -1;
    }
    if (p->abi_major != PWALK_ABI_MAJOR) {
        oneline_format(err, errlen,
                       "%s: pwalk_plugin.abi_major is %u but its entry is %s; this engine "
                       "supports major %d",
                       shown, p->abi_major, PWALK_PLUGIN_ENTRY_SYMBOL, PWALK_ABI_MAJOR);
        return -1;
    }
    if (p->abi_minor > PWALK_ABI_MINOR) {
        oneline_format(err, errlen, "%s: built for ABI %u.%u, newer than this engine's %d.%d",
                       shown, p->abi_major, p->abi_minor, PWALK_ABI_MAJOR, PWALK_ABI_MINOR);
        return -1;
    }
    if (!p->name || !*p->name) {
        oneline_format(err, errlen, "%s: the plugin declares no name", shown);
        return -1;
    }
    if (strcmp(p->name, want) != 0) {
        oneline_format(err, errlen, "%s: declares name '%s' but the pipeline asked for '%s'",
                       shown, p->name, want);
        return -1;
    }
    return 0;
}

/* The required callbacks, the threading mode and the flags. */
static int loader_check_callbacks(const char *shown, const pwalk_plugin *p, char *err,
                                  size_t errlen)
{
    if (!p->create) {
        oneline_format(err, errlen, "%s: plugin '%s' has no create callback (required)", shown,
                       p->name);
        return -1;
    }
    if (!p->consume) {
        oneline_format(err, errlen, "%s: plugin '%s' has no consume callback (required)", shown,
                       p->name);
        return -1;
    }
    if (p->threading != PWALK_THREADING_PER_WORKER && p->threading != PWALK_THREADING_SERIAL) {
        oneline_format(err, errlen,
                       "%s: plugin '%s' declares unknown threading mode %u (known: %u "
                       "per-worker, %u serial)",
                       shown, p->name, p->threading, PWALK_THREADING_PER_WORKER,
                       PWALK_THREADING_SERIAL);
        return -1;
    }
    /* A flag from a newer minor would have been refused above, so an unknown
     * bit is a mistake; guessing what it asked for could be unsafe. */
    if (p->flags & ~(uint32_t)LOADER_KNOWN_FLAGS) {
        oneline_format(err, errlen, "%s: plugin '%s' declares unknown flags 0x%x", shown, p->name,
                       p->flags & ~(uint32_t)LOADER_KNOWN_FLAGS);
        return -1;
    }
    return 0;
}

/* The option table: names, types, flags, choices, no name twice. */
static int loader_check_options(const char *shown, const pwalk_plugin *p, char *err,
                                size_t errlen)
{
    if (p->option_count && !p->options) {
        oneline_format(err, errlen, "%s: plugin '%s' declares %u options but no option table",
                       shown, p->name, p->option_count);
        return -1;
    }
    for (uint32_t i = 0; i < p->option_count; i++) {
        const pwalk_option_spec *o = &p->options[i];
        if (!o->name || !*o->name) {
            oneline_format(err, errlen, "%s: plugin '%s': option #%u has no name", shown, p->name,
                           i + 1);
            return -1;
        }
        if (!loader_type_ok(o->type)) {
            oneline_format(err, errlen,
                           "%s: plugin '%s': option '%s' has unknown type %u (known: 1 string, "
                           "2 bool, 3 int, 4 enum, 5 string list)",
                           shown, p->name, o->name, o->type);
            return -1;
        }
        if (loader_check_option_flags(shown, p, o, err, errlen) != 0)
            return -1;
        if (o->type == PWALK_OPT_ENUM && (!o->choices || !*o->choices)) {
            oneline_format(err, errlen, "%s: plugin '%s': enum option '%s' declares no choices",
                           shown, p->name, o->name);
            return -1;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(p->options[j].name, o->name) == 0) {
                oneline_format(err, errlen, "%s: plugin '%s': option '%s' is declared twice",
                               shown, p->name, o->name);
                return -1;
            }
        }
    }
    return 0;
}

/* The declarations, once the struct is known to be large enough to read. */
static int loader_check_plugin(const char *shown, const char *want, const pwalk_plugin *p,
                               char *err, size_t errlen)
{
    if (loader_check_identity(shown, want, p, err, errlen) != 0 ||
        loader_check_callbacks(shown, p, err, errlen) != 0)
        return -1;
    return loader_check_options(shown, p, err, errlen);
}

/* dlerror() usually starts with the file name, which our message already
 * leads with; drop the repeat. */
static const char *loader_dlerror_tail(const char *msg, const char *path)
{
    if (!msg)
        return "unknown dlopen error";
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

int loader_open(const char *name, char *const *dirs, size_t ndirs, loader_plugin *out,
                char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *path = NULL;
    if (loader_find(name, dirs, ndirs, &path, err, errlen) != 0)
        return -1;

    char *resolved = NULL;
    const char *to_open = path;
    if (geteuid() == 0) {
        if (loader_check_root_safe(name, path, &resolved, err, errlen) != 0) {
            free(resolved);
            free(path);
            return -1;
        }
        to_open = resolved;
    }

    dlerror();
    void *handle = dlopen(to_open, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        oneline_format(err, errlen, "%s: cannot load as a shared object: %s", path,
                       loader_dlerror_tail(dlerror(), to_open));
        free(resolved);
        free(path);
        return -1;
    }
    free(resolved);

    char *want = NULL;
    pwalk_plugin_entry_fn entry = loader_sym(handle, PWALK_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        int major = loader_probe_major(handle);
        if (major >= 0)
            oneline_format(err, errlen,
                           "%s: built for plugin ABI major %d; this engine supports major %d "
                           "(it exports pwalk_plugin_entry_v%d, not %s)",
                           path, major, PWALK_ABI_MAJOR, major, PWALK_PLUGIN_ENTRY_SYMBOL);
        else
            oneline_format(err, errlen, "%s: not a pwalk plugin: it does not export %s()", path,
                           PWALK_PLUGIN_ENTRY_SYMBOL);
        goto fail;
    }

    const pwalk_plugin *plugin = entry();
    if (!plugin) {
        oneline_format(err, errlen, "%s: %s() returned NULL", path, PWALK_PLUGIN_ENTRY_SYMBOL);
        goto fail;
    }
    want = loader_expected_name(name);
    if (!want) {
        oneline_format(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    if (loader_check_plugin(path, want, plugin, err, errlen) != 0)
        goto fail;
    free(want);

    out->handle = handle;
    out->plugin = plugin;
    out->path = path;
    return 0;

fail:
    free(want);
    dlclose(handle);
    free(path);
    return -1;
}

void loader_close(loader_plugin *lp)
{
    if (!lp)
        return;
    if (lp->handle)
        dlclose(lp->handle);
    free(lp->path);
    memset(lp, 0, sizeof *lp);
}
