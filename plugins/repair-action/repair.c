/*
 * repair.c -- the repair-action sink: restore group ownership and group
 * permissions on shared project trees, safely when run as root over trees
 * that untrusted users can write.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * For every entry (roots included):
 *   - directories get the setgid bit, so new files inherit the group;
 *   - an entry whose group is not a project group (gid 0, listed in
 *     change_gids, or a user private group: see repair_gid_lookup()) gets
 *     the group of the nearest ancestor directory that has a project group,
 *     searched upward through ".." beyond the root up to but not including
 *     "/"; with no such ancestor the entry is reported and left alone;
 *   - files get g+r (g+rw with force_group_writable), directories g+rx
 *     (g+rwx), setgid kept; with mirror_user_exec a file the owner can
 *     execute gets g+x.
 *
 * Safety.  Every change goes through a file descriptor, never a path
 * string: a non-directory is opened O_PATH|O_NOFOLLOW relative to the
 * parent directory fd the engine verified; a directory is changed through
 * the fd the engine opened with O_NOFOLLOW and checked against its
 * dev/ino.  The fd is fstat'ed and must show the dev, inode and file type
 * the walk saw, and it is checked again right before every change, so a
 * name swapped for a symlink or a hard link to /etc/shadow is never acted
 * on: what is changed is the inode the walk examined.  Symlinks, devices,
 * sockets, FIFOs, hard-linked or setuid/setgid regular files and entries
 * on another filesystem than their root are skipped and reported.  A dry
 * run (the default) opens and stats but makes no change syscall at all.
 *
 * Threading: one state per worker (counters, a cache of ancestor answers,
 * an output buffer); only whole lines of the shared change log are written
 * under a mutex, and the instance's cache of group lookups is read and
 * filled under another.
 */
#define _GNU_SOURCE /* O_PATH, AT_EMPTY_PATH, mkostemp, getgrnam_r */

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/lossless.h"
#include "common/outfile.h"
#include "pwalk/plugin.h"

#define REPAIR_VERSION "1.0.0"

/* ---- options --------------------------------------------------------------- */

static const pwalk_option_spec repair_options[] = {
    {"dry_run", PWALK_OPT_BOOL, 0, "true", NULL,
     "report what would change and change nothing (set false to repair)"},
    {"change_gids", PWALK_OPT_STRING_LIST, 0, "[]", NULL,
     "further groups (numbers or names) that are not project groups, e.g. [users]"},
    {"private_group", PWALK_OPT_ENUM, 0, "user-private-group",
     "user-private-group|uid-equals-gid",
     "how a private group is recognised: a group named like a user whose primary "
     "group it is, with no other member; or (legacy) gid equal to the owner's uid"},
    {"force_group_writable", PWALK_OPT_BOOL, 0, "false", NULL,
     "files get g+rw and directories g+rwx instead of g+r / g+rx"},
    {"mirror_user_exec", PWALK_OPT_BOOL, 0, "true", NULL,
     "a file its owner can execute gets g+x too"},
    {"exclude", PWALK_OPT_STRING_LIST, 0, "[]", NULL,
     "paths or globs not changed, nor anything under them ('/' in it: full path, "
     "else the name)"},
    {"log", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, NULL, NULL,
     "change log: CSV (path,what,old,new,rule), or JSON lines if the name ends in .jsonl"},
    {"mode", PWALK_OPT_STRING, 0, NULL, NULL,
     "the log's permissions, octal (\"0640\"); unset: 0600 when run as root, else 0666 "
     "less the umask"},
};

#define REPAIR_OPTION_COUNT (sizeof repair_options / sizeof repair_options[0])

/* ---- state ------------------------------------------------------------------ */

enum repair_change { REPAIR_GROUP, REPAIR_SETGID, REPAIR_MODE, REPAIR_CHANGE_COUNT };

static const char *const repair_change_names[REPAIR_CHANGE_COUNT] = {"group", "setgid",
                                                                      "mode"};

/* Why an entry was left alone.  The names appear in the summary and in the
 * change log, so scripts may match on them: keep them stable. */
enum repair_skip {
    REPAIR_SKIP_SYMLINK,
    REPAIR_SKIP_DEVICE,
    REPAIR_SKIP_SOCKET,
    REPAIR_SKIP_FIFO,
    REPAIR_SKIP_OTHER_TYPE,
    REPAIR_SKIP_HARDLINK,
    REPAIR_SKIP_SETID,
    REPAIR_SKIP_OTHER_FS,
    REPAIR_SKIP_CHANGED,
    REPAIR_SKIP_UNREADABLE,
    REPAIR_SKIP_NO_GROUP,
    REPAIR_SKIP_COUNT
};

static const char *const repair_skip_names[REPAIR_SKIP_COUNT] = {
    "symlink", "device", "socket", "fifo", "other-type", "hardlink", "setuid-setgid",
    "other-filesystem", "changed", "unreadable", "no-project-group"};

typedef struct repair_counts {
    uint64_t examined;
    uint64_t excluded;
    uint64_t errors;
    uint64_t changed[REPAIR_CHANGE_COUNT];
    uint64_t skipped[REPAIR_SKIP_COUNT];
} repair_counts;

/* Where the change lines go. */
enum repair_out { REPAIR_OUT_NONE, REPAIR_OUT_STDOUT, REPAIR_OUT_CSV, REPAIR_OUT_JSONL };

typedef struct repair_pattern {
    char *text;
    int has_slash;      /* matched against the full path, else the name */
    size_t exact_len;   /* text without trailing slashes, for exact paths */
} repair_pattern;

typedef struct repair_instance {
    const pwalk_host *host;
    pwalk_host_ctx *ctx;
    int dry_run;
    int force_writable;
    int mirror_exec;
    gid_t *change_gids;
    size_t change_gid_count;
    repair_pattern *excludes;
    size_t exclude_count;
    /* "/" itself: the upward group search stops below it */
    uint64_t slash_dev, slash_ino;
    int uid_equals_gid;     /* private_group: uid-equals-gid (legacy)     */
    /* gid -> what it is, misses and lookup errors included: each gid is
     * looked up once per run however slow NSS (LDAP) is.  Shared by the
     * workers, so under gid_lock (see repair_gid_cached()). */
    struct repair_gid_slot *gids;
    size_t gid_cap, gid_count;
    pthread_mutex_t gid_lock;
    int gid_lock_ready;

    int out_kind;
    char *log_path;         /* final name of the change log              */
    outfile log;            /* the log's temporary and its directory fd  */
    int log_fd;
    pthread_mutex_t out_lock;
    int out_lock_ready;
    int out_errno;          /* first write error; under out_lock         */

    repair_counts total;    /* folded in at thread_close()               */
} repair_instance;

/* What a gid is to the repair: a project group (rule NULL), or not one and
 * the rule that says so ("root-group", "change_gids", "uid-equals-gid",
 * "private-group(NAME)"), or unknown because NSS failed (err != 0). */
typedef struct repair_gid_info {
    const char *rule;       /* static, or owned by the instance's cache   */
    int err;
} repair_gid_info;

typedef struct repair_gid_slot {
    gid_t gid;
    int used;
    repair_gid_info info;
} repair_gid_slot;

/* Each worker remembers its last few answers, so the common case (a
 * directory of files of one group) takes no lock. */
#define REPAIR_GID_MEMO 16u

/* A per-worker, direct-mapped cache: directory (dev, ino) -> the project
 * group that applies below it.  Bounded, so a tree of 100 million
 * directories costs the same memory as a small one; a collision only costs
 * a repeated upward search. */
#define REPAIR_CACHE_SLOTS 4096u
#define REPAIR_NO_GROUP (-1)

typedef struct repair_cache_slot {
    uint64_t dev, ino;
    int64_t gid;            /* REPAIR_NO_GROUP: nothing suitable above */
    int used;
} repair_cache_slot;

typedef struct repair_key {
    uint64_t dev, ino;
} repair_key;

/* Output lines are collected per worker and written whole under the lock
 * once this much is buffered (and at the end of every call for stdout, so
 * a dry run shows progress). */
#define REPAIR_FLUSH_AT (64u * 1024u)

typedef struct repair_tstate {
    repair_counts c;
    char *out;
    size_t out_len, out_cap;
    char *scratch;          /* exclusion prefixes */
    size_t scratch_cap;
    repair_key *visited;    /* directories of one upward search */
    size_t visited_cap;
    repair_cache_slot cache[REPAIR_CACHE_SLOTS];
    repair_gid_slot gid_memo[REPAIR_GID_MEMO];
} repair_tstate;

/* ---- small helpers ------------------------------------------------------------ */

static int repair_grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    char *p = realloc(*buf, ncap);
    if (!p)
        return -1;
    *buf = p;
    *cap = ncap;
    return 0;
}

/* Write the path as lossless text (common/lossless.h), the convention of
 * the csv reports, so the two can be joined, quoted for the output kind:
 * CSV doubles '"', JSON escapes '"' and backslashes, stdout leaves '"'.
 * out needs LOSSLESS_ESCAPED_MAX(len) bytes.  Returns the bytes written. */
static size_t repair_escape(char *out, const char *in, size_t len, int kind)
{
    lossless_quote q = kind == REPAIR_OUT_JSONL ? LOSSLESS_JSON
                       : kind == REPAIR_OUT_CSV ? LOSSLESS_CSV
                                                : LOSSLESS_BARE;
    return lossless_escape(out, in, len, q);
}

/* Write whatever the worker has buffered; whole lines, under the lock. */
static int repair_flush(repair_instance *r, repair_tstate *ts)
{
    if (ts->out_len == 0)
        return 0;
    int fd = r->out_kind == REPAIR_OUT_STDOUT ? STDOUT_FILENO : r->log_fd;
    int rc = 0;
    pthread_mutex_lock(&r->out_lock);
    if (r->out_errno) {
        rc = -1;
    } else {
        size_t off = 0;
        while (off < ts->out_len) {
            ssize_t n = write(fd, ts->out + off, ts->out_len - off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                r->out_errno = errno;
                rc = -1;
                break;
            }
            off += (size_t)n;
        }
    }
    int saved = r->out_errno;
    pthread_mutex_unlock(&r->out_lock);
    ts->out_len = 0;
    if (rc != 0)
        r->host->set_error(r->ctx, "cannot write the change log to %s: %s",
                           r->out_kind == REPAIR_OUT_STDOUT ? "standard output" : r->log_path,
                           strerror(saved));
    return rc;
}

/* One line of the change log: what = group/setgid/mode, or "skip" (old =
 * the reason) or "error" (old = the operation, new = the error); rule =
 * what decided it ("" for none: other skips, errors).  On stdout the rule
 * is appended after the path as " rule=RULE", so the fields before it keep
 * their places; it has no space, and whether a line has one follows from
 * its first two fields (every change, and a no-project-group skip). */
static int repair_note(repair_instance *r, repair_tstate *ts, const pwalk_entry *e,
                       const char *what, const char *old, const char *new_value,
                       const char *rule)
{
    if (r->out_kind == REPAIR_OUT_NONE)
        return 0;
    size_t need = ts->out_len + LOSSLESS_ESCAPED_MAX(e->path_len) + strlen(what) +
                  2 * strlen(old) + 2 * strlen(new_value) + strlen(rule) + 80;
    if (repair_grow(&ts->out, &ts->out_cap, need)) {
        r->host->set_error(r->ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    char *p = ts->out + ts->out_len;
    /* the values are digits, reason names and error texts: no quoting */
    switch (r->out_kind) {
    case REPAIR_OUT_STDOUT:
        if (new_value[0])
            p += sprintf(p, "%s %s -> %s ", what, old, new_value);
        else
            p += sprintf(p, "%s %s ", what, old);
        p += repair_escape(p, e->path, e->path_len, r->out_kind);
        if (rule[0])
            p += sprintf(p, " rule=%s", rule);
        *p++ = '\n';
        break;
    case REPAIR_OUT_CSV:
        *p++ = '"';
        p += repair_escape(p, e->path, e->path_len, r->out_kind);
        p += sprintf(p, "\",%s,%s,%s,%s\n", what, old, new_value, rule);
        break;
    default:
        p += sprintf(p, "{\"path\":\"");
        p += repair_escape(p, e->path, e->path_len, r->out_kind);
        p += sprintf(p, "\",\"what\":\"%s\",\"old\":\"%s\",\"new\":\"%s\",\"rule\":\"%s\"}\n",
                     what, old, new_value, rule);
        break;
    }
    ts->out_len = (size_t)(p - ts->out);
    if (ts->out_len >= REPAIR_FLUSH_AT && repair_flush(r, ts) != 0)
        return PWALK_ERR_IO;
    return PWALK_OK;
}

static int repair_skip_rule(repair_instance *r, repair_tstate *ts, const pwalk_entry *e,
                            enum repair_skip why, const char *rule)
{
    ts->c.skipped[why]++;
    return repair_note(r, ts, e, "skip", repair_skip_names[why], "", rule);
}

static int repair_skip(repair_instance *r, repair_tstate *ts, const pwalk_entry *e,
                       enum repair_skip why)
{
    return repair_skip_rule(r, ts, e, why, "");
}

/* A failed syscall on one entry: counted, reported to the engine (exit
 * status 1, the error file), logged; the walk goes on. */
static int repair_fail(repair_instance *r, repair_tstate *ts, const pwalk_entry *e, int err,
                       const char *operation)
{
    ts->c.errors++;
    r->host->entry_error(r->ctx, e->path, err, operation);
    char text[128];
    snprintf(text, sizeof text, "%s", strerror(err));
    for (char *q = text; *q; q++) /* keep the CSV field unquoted */
        if (*q == ',' || *q == '"')
            *q = ' ';
    return repair_note(r, ts, e, "error", operation, text, "");
}

/* ---- exclusion ------------------------------------------------------------------ */

static int repair_pattern_matches(const repair_pattern *p, const char *path, size_t len,
                                  const char *name)
{
    if (p->has_slash)
        return (p->exact_len == len && memcmp(p->text, path, len) == 0) ||
               fnmatch(p->text, path, 0) == 0;
    return fnmatch(p->text, name, 0) == 0;
}

/* Does a pattern match buf[0..end) (a path inside the scan)?  buf is the
 * worker's own copy, so it may be cut at end for the moment. */
static int repair_prefix_excluded(repair_instance *r, char *buf, size_t end)
{
    char saved = buf[end];
    buf[end] = '\0';
    const char *name = buf + end;
    while (name > buf && name[-1] != '/')
        name--;
    if (*name == '\0') /* the root "/" itself */
        name = buf;
    int hit = 0;
    for (size_t i = 0; i < r->exclude_count && !hit; i++)
        hit = repair_pattern_matches(&r->excludes[i], buf, end, name);
    buf[end] = saved;
    return hit;
}

/* Does a pattern match the entry or any directory between its root and
 * it?  The root's own path is the entry's path less depth + 1 trailing
 * components (a name never holds '/'), so only the part of the path inside
 * the scan is tested, and a name pattern never matches a directory above
 * the root. */
static int repair_excluded(repair_instance *r, repair_tstate *ts, const pwalk_entry *e,
                           int *nomem)
{
    size_t len = e->path_len;
    if (repair_grow(&ts->scratch, &ts->scratch_cap, len + 1)) {
        *nomem = 1;
        return 0;
    }
    char *buf = ts->scratch;
    memcpy(buf, e->path, len);
    buf[len] = '\0';

    size_t root_end = len;
    for (int32_t k = 0; k <= e->depth && root_end > 0; k++) {
        size_t pos = root_end;
        while (pos > 0 && buf[pos - 1] != '/')
            pos--;
        if (pos == 0) /* fewer components than depth says: test it all */
            break;
        root_end = pos - 1;
        if (root_end == 0) /* the root is "/" */
            root_end = 1;
    }

    /* the root, then every prefix that ends a component below it */
    if (repair_prefix_excluded(r, buf, root_end))
        return 1;
    for (size_t end = root_end + 1; end <= len; end++)
        if ((end == len || buf[end] == '/') && repair_prefix_excluded(r, buf, end))
            return 1;
    return 0;
}

/* ---- groups -------------------------------------------------------------------- */

/* getgrgid_r/getpwnam_r say "not found" with 0 and no result or, by
 * getgrnam(3), with one of these, depending on the NSS module. */
static int repair_nss_missing(int err)
{
    return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
}

/* Record buffers grow on ERANGE up to this.  A private group's record (a
 * name, at most one member) is small; a group that does not fit has many
 * members and is no private group, so running out is an answer. */
#define REPAIR_NSS_BUF_MAX (1u << 20)

/* getgrgid_r into *buf (malloc'ed, grown).  Returns 0 with *res (NULL: no
 * such group, or too big to be private), or an errno value. */
static int repair_getgr(gid_t gid, struct group *gr, char **buf, struct group **res)
{
    for (size_t cap = 1024;; cap *= 4) {
        char *nb = realloc(*buf, cap);
        if (!nb)
            return ENOMEM;
        *buf = nb;
        *res = NULL;
        int err = getgrgid_r(gid, gr, *buf, cap, res);
        if (err == ERANGE && cap < REPAIR_NSS_BUF_MAX)
            continue;
        if (err != 0)
            *res = NULL;
        return err == ERANGE || repair_nss_missing(err) ? 0 : err;
    }
}

/* The primary gid of the user called name: 0 with *found, or an errno. */
static int repair_getpw_gid(const char *name, gid_t *pw_gid, int *found)
{
    *found = 0;
    char *buf = NULL;
    int rc = 0;
    for (size_t cap = 1024;; cap *= 4) {
        char *nb = realloc(buf, cap);
        if (!nb) {
            rc = ENOMEM;
            break;
        }
        buf = nb;
        struct passwd pw, *res = NULL;
        int err = getpwnam_r(name, &pw, buf, cap, &res);
        if (err == ERANGE && cap < REPAIR_NSS_BUF_MAX)
            continue;
        if (err == 0 && res) {
            *found = 1;
            *pw_gid = res->pw_gid;
        } else if (err != ERANGE && !repair_nss_missing(err)) {
            rc = err;
        }
        break;
    }
    free(buf);
    return rc;
}

/* Is gid a user private group?  By the usual convention (useradd -U,
 * adduser's USERGROUPS), group G is user U's private group when G has U's
 * name, is U's primary group (pw_gid), and has no member but U -- whatever
 * the numbers: the gid need not equal the uid, and a project group whose
 * gid equals some uid is still a project group.  Any user's private group
 * counts, not only the entry owner's: the repair moves entries out of
 * private groups into the project group, whoever's they are.  A gid that
 * no group has is no private group.  Returns 0 with *name (malloc'ed, the
 * user's name) or NULL, or an errno value when NSS failed. */
static int repair_gid_lookup(gid_t gid, char **name)
{
    *name = NULL;
    char *buf = NULL;
    struct group gr, *res = NULL;
    int rc = repair_getgr(gid, &gr, &buf, &res);
    if (rc == 0 && res) {
        char **mem = gr.gr_mem;
        int solo = !mem || !mem[0] || (strcmp(mem[0], gr.gr_name) == 0 && !mem[1]);
        gid_t pw_gid = 0;
        int found = 0;
        if (solo)
            rc = repair_getpw_gid(gr.gr_name, &pw_gid, &found);
        if (rc == 0 && found && pw_gid == gid && !(*name = strdup(gr.gr_name)))
            rc = ENOMEM;
    }
    free(buf);
    return rc;
}

/* "private-group(NAME)", every byte of NAME but letters, digits and "._@$-"
 * as %HH: a rule is one token that needs no quoting in any output (NSS
 * names may hold spaces, commas, quotes). */
static char *repair_private_rule(const char *name)
{
    static const char prefix[] = "private-group(";
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(sizeof prefix + 3 * strlen(name) + 1);
    if (!out)
        return NULL;
    char *p = out + (sizeof prefix - 1);
    memcpy(out, prefix, sizeof prefix - 1);
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            strchr("._@$-", *s)) {
            *p++ = (char)*s;
        } else {
            *p++ = '%';
            *p++ = hex[*s >> 4];
            *p++ = hex[*s & 15];
        }
    }
    *p++ = ')';
    *p = '\0';
    return out;
}

/* The instance's cache (under gid_lock): gid's slot, or the free slot
 * where it goes.  Open addressing, at most half full. */
static repair_gid_slot *repair_gid_find(repair_instance *r, gid_t gid)
{
    size_t mask = r->gid_cap - 1;
    size_t i = ((uint32_t)gid * 2654435761u) & mask;
    while (r->gids[i].used && r->gids[i].gid != gid)
        i = (i + 1) & mask;
    return &r->gids[i];
}

/* Room for one more gid (under gid_lock).  0, or -1 out of memory. */
static int repair_gid_reserve(repair_instance *r)
{
    if (r->gid_count + 1 <= r->gid_cap / 2)
        return 0;
    size_t ocap = r->gid_cap, ncap = ocap ? 2 * ocap : 64;
    repair_gid_slot *old = r->gids;
    repair_gid_slot *fresh = calloc(ncap, sizeof *fresh);
    if (!fresh)
        return -1;
    r->gids = fresh;
    r->gid_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].used)
            *repair_gid_find(r, old[i].gid) = old[i];
    free(old);
    return 0;
}

/* What gid is, from the worker's memo, else the instance's cache, else
 * NSS.  NSS is asked outside the lock, so a slow LDAP answer holds up no
 * other worker; two workers meeting one new gid at once both ask, and the
 * first answer stored is the one every worker uses. */
static repair_gid_info repair_gid_cached(repair_instance *r, repair_tstate *ts, gid_t gid)
{
    repair_gid_slot *memo = &ts->gid_memo[gid & (REPAIR_GID_MEMO - 1)];
    if (memo->used && memo->gid == gid)
        return memo->info;
    repair_gid_info info = {NULL, 0};
    int known = 0;
    pthread_mutex_lock(&r->gid_lock);
    if (r->gid_cap) {
        repair_gid_slot *s = repair_gid_find(r, gid);
        known = s->used;
        info = s->info;
    }
    pthread_mutex_unlock(&r->gid_lock);
    if (!known) {
        char *name = NULL, *rule = NULL;
        info.err = repair_gid_lookup(gid, &name);
        if (name && !(rule = repair_private_rule(name)))
            info.err = ENOMEM;
        free(name);
        info.rule = rule;
        pthread_mutex_lock(&r->gid_lock);
        if (info.err != ENOMEM && repair_gid_reserve(r) == 0) {
            repair_gid_slot *s = repair_gid_find(r, gid);
            if (!s->used) {
                s->gid = gid;
                s->used = 1;
                s->info = info;
                r->gid_count++;
                rule = NULL; /* the cache's now */
            }
            info = s->info;
            known = 1;
        }
        pthread_mutex_unlock(&r->gid_lock);
        free(rule);
        if (!known) /* out of memory: an error for this entry, not kept */
            return (repair_gid_info){NULL, ENOMEM};
    }
    memo->gid = gid;
    memo->used = 1;
    memo->info = info;
    return info;
}

/* Is gid (on an entry owned by uid) a project group?  0 with *rule NULL
 * if so, else *rule names why not: root-group (gid 0), change_gids, then
 * private-group(NAME), or uid-equals-gid with the legacy private_group
 * option.  -1 with errno when NSS could not tell. */
static int repair_not_project(repair_instance *r, repair_tstate *ts, uint32_t gid, uint32_t uid,
                              const char **rule)
{
    *rule = NULL;
    if (gid == 0) {
        *rule = "root-group";
        return 0;
    }
    for (size_t i = 0; i < r->change_gid_count; i++) {
        if (r->change_gids[i] == (gid_t)gid) {
            *rule = "change_gids";
            return 0;
        }
    }
    if (r->uid_equals_gid) {
        if (gid == uid)
            *rule = "uid-equals-gid";
        return 0;
    }
    repair_gid_info info = repair_gid_cached(r, ts, (gid_t)gid);
    if (info.err) {
        errno = info.err;
        return -1;
    }
    *rule = info.rule;
    return 0;
}

static repair_cache_slot *repair_cache_slot_for(repair_tstate *ts, uint64_t dev, uint64_t ino)
{
    uint64_t h = ino * 0x9E3779B97F4A7C15ull ^
                 (dev + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    return &ts->cache[(h >> 40) & (REPAIR_CACHE_SLOTS - 1)];
}

/* The project group that applies below directory dirfd: its own group if
 * that is a project group, else its parent's answer, up to but not
 * including "/".  Reads only, through "..", so nothing is resolved by name
 * and a directory moved meanwhile is followed to where it is now.  Returns
 * 0 and *gid (REPAIR_NO_GROUP when none), or -1 with errno. */
static int repair_group_above(repair_instance *r, repair_tstate *ts, int dirfd, int own_fd,
                              int64_t *gid)
{
    size_t nvisited = 0;
    int64_t answer = REPAIR_NO_GROUP;
    int cur = dirfd, own = own_fd, rc = 0;
    struct stat st;
    if (fstat(cur, &st) != 0) {
        rc = -1;
        goto out;
    }
    for (;;) {
        uint64_t dev = (uint64_t)st.st_dev, ino = (uint64_t)st.st_ino;
        if (dev == r->slash_dev && ino == r->slash_ino)
            break; /* "/" is never a candidate */
        repair_cache_slot *slot = repair_cache_slot_for(ts, dev, ino);
        if (slot->used && slot->dev == dev && slot->ino == ino) {
            answer = slot->gid;
            break;
        }
        size_t cap_items = ts->visited_cap / sizeof(repair_key);
        if (nvisited == cap_items) {
            char *v = (char *)ts->visited;
            size_t cap = ts->visited_cap;
            if (repair_grow(&v, &cap, (nvisited + 1) * sizeof(repair_key))) {
                errno = ENOMEM;
                rc = -1;
                goto out;
            }
            ts->visited = (repair_key *)(void *)v;
            ts->visited_cap = cap;
        }
        ts->visited[nvisited].dev = dev;
        ts->visited[nvisited].ino = ino;
        nvisited++;
        const char *rule;
        if (repair_not_project(r, ts, (uint32_t)st.st_gid, (uint32_t)st.st_uid, &rule) != 0) {
            rc = -1;
            goto out;
        }
        if (!rule) {
            answer = (int64_t)st.st_gid;
            break;
        }
        int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (up < 0) {
            rc = -1;
            goto out;
        }
        if (own)
            close(cur);
        cur = up;
        own = 1;
        struct stat ust;
        if (fstat(cur, &ust) != 0) {
            rc = -1;
            goto out;
        }
        if (ust.st_dev == st.st_dev && ust.st_ino == st.st_ino)
            break; /* the top of this process's tree: ".." is itself */
        st = ust;
    }
    for (size_t i = 0; i < nvisited; i++) {
        repair_cache_slot *slot = repair_cache_slot_for(ts, ts->visited[i].dev,
                                                        ts->visited[i].ino);
        slot->dev = ts->visited[i].dev;
        slot->ino = ts->visited[i].ino;
        slot->gid = answer;
        slot->used = 1;
    }
    *gid = answer;
out:
    if (own) {
        int saved = errno;
        close(cur);
        errno = saved;
    }
    return rc;
}

/* The group for an entry that needs one: searched from its parent
 * directory.  A non-directory has the engine's parent fd; a directory
 * reaches its parent through ".." of its own fd; a non-directory root has
 * no fd above it, so its parent is opened by the path the administrator
 * gave (only groups are read through it). */
static int repair_find_group(repair_instance *r, repair_tstate *ts, const pwalk_entry *e,
                             int fd, int64_t *gid)
{
    if (e->parent_fd >= 0)
        return repair_group_above(r, ts, e->parent_fd, 0, gid);
    int up;
    if (S_ISDIR((mode_t)e->mode)) {
        up = openat(fd, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    } else {
        const char *slash = memrchr(e->path, '/', e->path_len);
        if (!slash) {
            up = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        } else {
            size_t n = slash == e->path ? 1 : (size_t)(slash - e->path);
            char *dir = malloc(n + 1);
            if (!dir) {
                errno = ENOMEM;
                return -1;
            }
            memcpy(dir, e->path, n);
            dir[n] = '\0';
            up = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
            free(dir);
        }
    }
    if (up < 0)
        return -1;
    return repair_group_above(r, ts, up, 1, gid);
}

/* ---- one entry ------------------------------------------------------------------ */

/* A reason to skip an entry of this type, or -1. */
static int repair_type_skip(mode_t mode)
{
    if (S_ISREG(mode) || S_ISDIR(mode))
        return -1;
    if (S_ISLNK(mode))
        return REPAIR_SKIP_SYMLINK;
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return REPAIR_SKIP_DEVICE;
    if (S_ISSOCK(mode))
        return REPAIR_SKIP_SOCKET;
    if (S_ISFIFO(mode))
        return REPAIR_SKIP_FIFO;
    return REPAIR_SKIP_OTHER_TYPE;
}

/* Is the inode behind fd still the one the walk saw, and still safe to
 * change?  Returns -1 if so (st filled), a skip reason if not, or -2 with
 * errno when fstat failed.  Called before every change, so a hard link
 * made or a setuid bit set after the walk's lstat is caught too. */
static int repair_check(int fd, const pwalk_entry *e, struct stat *st)
{
    if (fstat(fd, st) != 0)
        return -2;
    if ((uint64_t)st->st_dev != e->dev || (uint64_t)st->st_ino != e->ino ||
        (st->st_mode & S_IFMT) != ((mode_t)e->mode & S_IFMT))
        return REPAIR_SKIP_CHANGED;
    if ((uint64_t)st->st_dev != e->root_dev)
        return REPAIR_SKIP_OTHER_FS;
    if (S_ISREG(st->st_mode)) {
        if (st->st_nlink > 1)
            return REPAIR_SKIP_HARDLINK;
        if (st->st_mode & (S_ISUID | S_ISGID))
            return REPAIR_SKIP_SETID;
    }
    return -1;
}

/* The permission bits the entry should have. */
static mode_t repair_wanted_mode(const repair_instance *r, mode_t mode)
{
    mode_t perm = mode & 07777;
    if (S_ISDIR(mode)) {
        perm |= S_ISGID | S_IRGRP | S_IXGRP;
        if (r->force_writable)
            perm |= S_IWGRP;
    } else {
        perm |= S_IRGRP;
        if (r->force_writable)
            perm |= S_IWGRP;
        if (r->mirror_exec && (perm & S_IXUSR))
            perm |= S_IXGRP;
    }
    return perm;
}

/* The rules behind a mode change from before to after, '+'-joined:
 * group-read (a file's g+r, a directory's g+rx), force_group_writable
 * (g+w), mirror_user_exec (a file's g+x). */
static void repair_mode_rule(mode_t type, mode_t before, mode_t after, char *buf, size_t cap)
{
    mode_t added = after & ~before;
    int dir = S_ISDIR(type);
    size_t o = 0;
    buf[0] = '\0';
    if (added & (dir ? (S_IRGRP | S_IXGRP) : S_IRGRP))
        o += (size_t)snprintf(buf + o, cap - o, "group-read");
    if ((added & S_IWGRP) && o < cap)
        o += (size_t)snprintf(buf + o, cap - o, "%sforce_group_writable", o ? "+" : "");
    if (!dir && (added & S_IXGRP) && o < cap)
        snprintf(buf + o, cap - o, "%smirror_user_exec", o ? "+" : "");
}

/* chmod through the fd: fchmod on a real fd; an O_PATH fd refuses
 * fchmod, so its /proc magic link is used, which names the open inode
 * itself and is not a lookup of the entry's name. */
static int repair_chmod(int fd, int real_fd, mode_t mode)
{
    if (real_fd)
        return fchmod(fd, mode);
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    return chmod(link, mode);
}

/* What the row says is enough to leave an entry alone: a skip reason, or
 * -1 to go on. */
static int repair_row_skip(const pwalk_entry *e, mode_t type)
{
    int why = repair_type_skip(type);
    if (why < 0 && e->dev != e->root_dev)
        why = REPAIR_SKIP_OTHER_FS;
    if (why < 0 && S_ISREG(type) && e->nlink > 1)
        why = REPAIR_SKIP_HARDLINK;
    if (why < 0 && S_ISREG(type) && (e->mode & (S_ISUID | S_ISGID)))
        why = REPAIR_SKIP_SETID;
    return why;
}

/* An fd for exactly the inode the walk saw.  Returns a skip reason when
 * there is no safe handle, else -1 with *fd set (< 0 with errno from the
 * open when it failed), *own when the fd is ours to close, *real_fd when
 * it is not an O_PATH fd. */
static int repair_open_entry(const pwalk_entry *e, mode_t type, int *fd, int *own, int *real_fd)
{
    int is_root = (e->flags & PWALK_ENTRY_ROOT) != 0;
    if (S_ISDIR(type) && e->self_fd >= 0) {
        *fd = e->self_fd;
        *real_fd = 1;
    } else if (S_ISDIR(type) && is_root) {
        /* an unreadable root: the path is what the administrator gave */
        *fd = open(e->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *real_fd = *fd >= 0;
        if (*fd < 0)
            *fd = open(e->path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *own = 1;
    } else if (S_ISDIR(type)) {
        /* the engine could not open it (or it was swapped): no safe handle */
        return REPAIR_SKIP_UNREADABLE;
    } else if (e->parent_fd >= 0) {
        *fd = openat(e->parent_fd, e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        *own = 1;
    } else if (is_root) {
        *fd = open(e->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        *own = 1;
    } else {
        return REPAIR_SKIP_UNREADABLE;
    }
    return -1;
}

/* repair_check() with its outcome reported: 0 to go on (st filled), else
 * 1 with *rc the entry's result (fstat failed, or the inode is not the
 * one the walk saw any more). */
static int repair_checked(repair_instance *r, repair_tstate *ts, const pwalk_entry *e, int fd,
                          struct stat *st, int *rc)
{
    int why = repair_check(fd, e, st);
    if (why == -2) {
        *rc = repair_fail(r, ts, e, errno, "repair: fstat");
        return 1;
    }
    if (why >= 0) {
        *rc = repair_skip(r, ts, e, (enum repair_skip)why);
        return 1;
    }
    return 0;
}

/* Step 1, the group; chown first, since it can clear mode bits.  0 to go
 * on to the mode (*chowned when the group was changed, st as it is now),
 * else 1 with *rc the entry's result. */
static int repair_fix_group(repair_instance *r, repair_tstate *ts, const pwalk_entry *e, int fd,
                            struct stat *st, int *chowned, int *rc)
{
    gid_t want_gid = st->st_gid;
    const char *group_rule; /* why the group is not a project group */
    if (repair_not_project(r, ts, (uint32_t)st->st_gid, (uint32_t)st->st_uid, &group_rule) != 0) {
        *rc = repair_fail(r, ts, e, errno, "repair: group lookup");
        return 1;
    }
    if (group_rule) {
        int64_t g;
        if (repair_find_group(r, ts, e, fd, &g) != 0) {
            *rc = repair_fail(r, ts, e, errno, "repair: find group");
            return 1;
        }
        if (g == REPAIR_NO_GROUP) {
            /* Reported, not guessed: and no mode change either, since g+r
             * or setgid on root's or a private group is not what anyone
             * asked for. */
            *rc = repair_skip_rule(r, ts, e, REPAIR_SKIP_NO_GROUP, group_rule);
            return 1;
        }
        want_gid = (gid_t)g;
    }
    if (want_gid == st->st_gid)
        return 0;
    if (!r->dry_run) {
        if (repair_checked(r, ts, e, fd, st, rc))
            return 1;
        if (fchownat(fd, "", (uid_t)-1, want_gid, AT_EMPTY_PATH) != 0) {
            *rc = repair_fail(r, ts, e, errno, "repair: chown");
            return 1;
        }
        *chowned = 1;
    }
    ts->c.changed[REPAIR_GROUP]++;
    char old[32], now[32];
    snprintf(old, sizeof old, "%" PRIu32, (uint32_t)st->st_gid);
    snprintf(now, sizeof now, "%" PRIu32, (uint32_t)want_gid);
    *rc = repair_note(r, ts, e, "group", old, now, group_rule);
    return *rc != PWALK_OK;
}

/* Step 2, setgid and group permissions, in one chmod.  The entry's
 * result. */
static int repair_fix_mode(repair_instance *r, repair_tstate *ts, const pwalk_entry *e, int fd,
                           int real_fd, struct stat *st, int chowned)
{
    int rc = PWALK_OK;
    mode_t perm = st->st_mode & 07777;
    mode_t want = repair_wanted_mode(r, st->st_mode);
    if (!r->dry_run && (chowned || want != perm)) {
        /* checked again right before the chmod, and the mode taken from
         * what is there now (as chown left it) */
        if (repair_checked(r, ts, e, fd, st, &rc))
            return rc;
        perm = st->st_mode & 07777;
        want = repair_wanted_mode(r, st->st_mode);
        if (want != perm && repair_chmod(fd, real_fd, want) != 0)
            return repair_fail(r, ts, e, errno, "repair: chmod");
    }
    if (want == perm)
        return PWALK_OK;
    char old[32], now[32];
    mode_t with_setgid = perm | (want & S_ISGID);
    if (with_setgid != perm) {
        ts->c.changed[REPAIR_SETGID]++;
        snprintf(old, sizeof old, "%04o", (unsigned)perm);
        snprintf(now, sizeof now, "%04o", (unsigned)with_setgid);
        if ((rc = repair_note(r, ts, e, "setgid", old, now, "directory-setgid")) != PWALK_OK)
            return rc;
    }
    if (want != with_setgid) {
        ts->c.changed[REPAIR_MODE]++;
        char rule[64];
        snprintf(old, sizeof old, "%04o", (unsigned)with_setgid);
        snprintf(now, sizeof now, "%04o", (unsigned)want);
        repair_mode_rule(st->st_mode, with_setgid, want, rule, sizeof rule);
        rc = repair_note(r, ts, e, "mode", old, now, rule);
    }
    return rc;
}

/* One entry: excluded, skipped on what its row says, opened as exactly
 * the inode the walk saw, checked, then its group and mode fixed -- each
 * change re-checked right before it is made. */
static int repair_entry(repair_instance *r, repair_tstate *ts, const pwalk_entry *e)
{
    ts->c.examined++;
    if (r->exclude_count) {
        int nomem = 0;
        int hit = repair_excluded(r, ts, e, &nomem);
        if (nomem) {
            r->host->set_error(r->ctx, "out of memory");
            return PWALK_ERR_NOMEM;
        }
        if (hit) {
            ts->c.excluded++;
            return PWALK_OK;
        }
    }

    mode_t type = (mode_t)e->mode & S_IFMT;
    int why = repair_row_skip(e, type);
    if (why >= 0)
        return repair_skip(r, ts, e, (enum repair_skip)why);

    int fd = -1, own = 0, real_fd = 0;
    why = repair_open_entry(e, type, &fd, &own, &real_fd);
    if (why >= 0)
        return repair_skip(r, ts, e, (enum repair_skip)why);
    if (fd < 0) {
        if (errno == ENOENT) /* removed since the walk saw it */
            return repair_skip(r, ts, e, REPAIR_SKIP_CHANGED);
        return repair_fail(r, ts, e, errno, "repair: open");
    }

    int rc = PWALK_OK;
    struct stat st;
    int chowned = 0;
    if (!repair_checked(r, ts, e, fd, &st, &rc) &&
        !repair_fix_group(r, ts, e, fd, &st, &chowned, &rc))
        rc = repair_fix_mode(r, ts, e, fd, real_fd, &st, chowned);
    if (own)
        close(fd);
    return rc;
}

/* ---- lifecycle ------------------------------------------------------------------ */

/* A gid from a number or a group name; names are resolved once, here, so
 * a typo fails the run before anything is touched. */
static int repair_parse_gid(const char *text, gid_t *gid)
{
    if (text[0] >= '0' && text[0] <= '9') {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || *end != '\0' || v >= UINT32_MAX)
            return -1;
        *gid = (gid_t)v;
        return 0;
    }
    size_t cap = 1024;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf)
            return -1;
        struct group gr, *res = NULL;
        int err = getgrnam_r(text, &gr, buf, cap, &res);
        if (err == ERANGE && cap < (1u << 20)) {
            free(buf);
            cap *= 4;
            continue;
        }
        if (err == 0 && res)
            *gid = res->gr_gid;
        free(buf);
        return err == 0 && res ? 0 : -1;
    }
}

static int repair_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The csv reports' writer (outfile.h): the temporary is created, renamed
 * and removed through the log directory's fd, so a user who swaps a
 * directory on the path during a root run cannot move the log elsewhere. */
static int repair_open_log(repair_instance *r, const char *path, int mode)
{
    r->log_path = strdup(path);
    if (!r->log_path) {
        r->host->set_error(r->ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    char err[512];
    if (outfile_open_mode(&r->log, path, mode, err, sizeof err) != 0) {
        r->host->set_error(r->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    r->log_fd = r->log.fd;
    /* a log inside the tree being repaired is left out of the walk (1.2) */
    if (PWALK_HOST_HAS(r->host, own_output) && r->host->own_output(r->ctx, r->log_fd) != 0)
        return PWALK_ERR;
    r->out_kind = repair_ends_with(path, ".jsonl") ? REPAIR_OUT_JSONL : REPAIR_OUT_CSV;
    if (r->out_kind == REPAIR_OUT_CSV) {
        static const char header[] = "path,what,old,new,rule\n";
        if (write(r->log_fd, header, sizeof header - 1) != (ssize_t)(sizeof header - 1)) {
            r->host->set_error(r->ctx, "cannot write %s: %s", r->log_path, strerror(errno));
            return PWALK_ERR_IO;
        }
    }
    return PWALK_OK;
}

/* The list option key's item count in *n (0: absent or empty) and, when it
 * has items, a zeroed array of *n elements of elem bytes in *array. */
static int repair_list_alloc(repair_instance *r, const pwalk_options *opts, const char *key,
                             size_t elem, void **array, size_t *n)
{
    *n = 0;
    if (r->host->opt_list_count(opts, key, n) != 0 || *n == 0) {
        *n = 0;
        return PWALK_OK;
    }
    *array = calloc(*n, elem);
    if (!*array) {
        r->host->set_error(r->ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    return PWALK_OK;
}

/* change_gids: the groups whose files are changed besides private ones. */
static int repair_read_change_gids(repair_instance *r, const pwalk_options *opts)
{
    const pwalk_host *host = r->host;
    pwalk_host_ctx *ctx = r->ctx;
    size_t n;
    int rc = repair_list_alloc(r, opts, "change_gids", sizeof *r->change_gids,
                               (void **)&r->change_gids, &n);
    if (rc != PWALK_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const char *item = "";
        host->opt_list_item(opts, "change_gids", i, &item);
        if (repair_parse_gid(item, &r->change_gids[i]) != 0) {
            host->set_error(ctx, "change_gids: '%s' is neither a gid nor a known group", item);
            return PWALK_ERR_CONFIG;
        }
    }
    r->change_gid_count = n;
    return PWALK_OK;
}

/* exclude: patterns kept out of every change, and pruned from the walk
 * when the engine can. */
static int repair_read_excludes(repair_instance *r, const pwalk_options *opts)
{
    const pwalk_host *host = r->host;
    pwalk_host_ctx *ctx = r->ctx;
    size_t n;
    int rc = repair_list_alloc(r, opts, "exclude", sizeof *r->excludes, (void **)&r->excludes, &n);
    if (rc != PWALK_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const char *item = "";
        host->opt_list_item(opts, "exclude", i, &item);
        if (item[0] == '\0') {
            host->set_error(ctx, "exclude: an empty pattern");
            return PWALK_ERR_CONFIG;
        }
        repair_pattern *p = &r->excludes[i];
        p->text = strdup(item);
        if (!p->text) {
            host->set_error(ctx, "out of memory");
            return PWALK_ERR_NOMEM;
        }
        r->exclude_count = i + 1;
        p->has_slash = strchr(item, '/') != NULL;
        p->exact_len = strlen(item);
        while (p->exact_len > 1 && item[p->exact_len - 1] == '/')
            p->exact_len--;
        /* "not descended": the walk itself leaves the subtree out (an
         * engine of ABI 1.0 cannot; the check in repair_entry() then
         * still keeps every change out of it) */
        if (PWALK_HOST_HAS(host, prune)) {
            rc = host->prune(ctx, item);
            if (rc != PWALK_OK) {
                host->set_error(ctx, "exclude: cannot prune '%s' from the walk", item);
                return rc;
            }
        }
    }
    return PWALK_OK;
}

/* Where changes and skips go: the log file (its mode), else stdout. */
static int repair_open_output(repair_instance *r, const pwalk_options *opts)
{
    const pwalk_host *host = r->host;
    pwalk_host_ctx *ctx = r->ctx;
    const char *log = NULL, *mode_text = NULL;
    int mode = OUTFILE_MODE_DEFAULT;
    host->opt_string(opts, "mode", &mode_text);
    if (mode_text && outfile_parse_mode(mode_text, &mode) != 0) {
        host->set_error(ctx, "mode: '%s' is not octal permission bits such as \"0640\"",
                        mode_text);
        return PWALK_ERR_CONFIG;
    }
    if (host->opt_string(opts, "log", &log) == 0 && log) {
        if (log[0] == '\0') {
            host->set_error(ctx, "option 'log' is empty");
            return PWALK_ERR_CONFIG;
        }
        return repair_open_log(r, log, mode);
    }
    /* without a log every change and skip is printed, real runs included:
     * an administrator must be able to tell what root did */
    r->out_kind = REPAIR_OUT_STDOUT;
    return PWALK_OK;
}

static int repair_create(const pwalk_host *host, pwalk_host_ctx *ctx, const pwalk_options *opts,
                         void **instance)
{
    repair_instance *r = calloc(1, sizeof *r);
    if (!r) {
        host->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    *instance = r; /* destroy() frees a half-built instance */
    r->host = host;
    r->ctx = ctx;
    r->log_fd = -1;
    if (pthread_mutex_init(&r->out_lock, NULL) != 0) {
        host->set_error(ctx, "cannot create a mutex");
        return PWALK_ERR;
    }
    r->out_lock_ready = 1;

    r->dry_run = 1;
    r->mirror_exec = 1;
    host->opt_bool(opts, "dry_run", &r->dry_run);
    host->opt_bool(opts, "force_group_writable", &r->force_writable);
    host->opt_bool(opts, "mirror_user_exec", &r->mirror_exec);
    const char *private_group = NULL;
    host->opt_string(opts, "private_group", &private_group);
    r->uid_equals_gid = private_group && strcmp(private_group, "uid-equals-gid") == 0;
    if (pthread_mutex_init(&r->gid_lock, NULL) != 0) {
        host->set_error(ctx, "cannot create a mutex");
        return PWALK_ERR;
    }
    r->gid_lock_ready = 1;

    int rc = repair_read_change_gids(r, opts);
    if (rc == PWALK_OK)
        rc = repair_read_excludes(r, opts);
    if (rc != PWALK_OK)
        return rc;

    struct stat slash;
    if (stat("/", &slash) != 0) {
        host->set_error(ctx, "cannot stat /: %s", strerror(errno));
        return PWALK_ERR;
    }
    r->slash_dev = (uint64_t)slash.st_dev;
    r->slash_ino = (uint64_t)slash.st_ino;

    if (!r->dry_run) {
        /* modes of non-directories are changed through /proc/self/fd */
        int pfd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0) {
            host->set_error(ctx, "a real run needs /proc mounted (/proc/self/fd: %s)",
                            strerror(errno));
            return PWALK_ERR_CONFIG;
        }
        close(pfd);
    }

    return repair_open_output(r, opts);
}

static int repair_thread_open(void *instance, uint32_t worker, void **tstate)
{
    repair_instance *r = instance;
    repair_tstate *ts = calloc(1, sizeof *ts);
    if (!ts) {
        r->host->set_error(r->ctx, "out of memory for worker %" PRIu32, worker);
        return PWALK_ERR_NOMEM;
    }
    *tstate = ts;
    return PWALK_OK;
}

static int repair_consume(void *instance, void *tstate, const pwalk_entry *entries,
                          size_t count)
{
    repair_instance *r = instance;
    repair_tstate *ts = tstate;
    for (size_t i = 0; i < count; i++) {
        int rc = repair_entry(r, ts, PWALK_ENTRY_AT(entries, i));
        if (rc != PWALK_OK)
            return rc;
    }
    if (r->out_kind == REPAIR_OUT_STDOUT && repair_flush(r, ts) != 0)
        return PWALK_ERR_IO;
    return PWALK_OK;
}

static int repair_thread_close(void *instance, void *tstate)
{
    repair_instance *r = instance;
    repair_tstate *ts = tstate;
    if (!ts)
        return PWALK_OK;
    int rc = repair_flush(r, ts) == 0 ? PWALK_OK : PWALK_ERR_IO;
    repair_counts *t = &r->total;
    t->examined += ts->c.examined;
    t->excluded += ts->c.excluded;
    t->errors += ts->c.errors;
    for (int k = 0; k < REPAIR_CHANGE_COUNT; k++)
        t->changed[k] += ts->c.changed[k];
    for (int k = 0; k < REPAIR_SKIP_COUNT; k++)
        t->skipped[k] += ts->c.skipped[k];
    free(ts->out);
    free(ts->scratch);
    free(ts->visited);
    free(ts);
    return rc;
}

/* The summary line: one line on stderr through the engine, e.g.
 *   examined 120 entries; changed group 3, setgid 2, mode 5;
 *   skipped 4 (symlink 1, hardlink 3); excluded 2; errors 0 */
static void repair_summary(repair_instance *r)
{
    const repair_counts *t = &r->total;
    char skipped[512];
    size_t o = 0;
    uint64_t nskip = 0;
    skipped[0] = '\0';
    for (int k = 0; k < REPAIR_SKIP_COUNT; k++) {
        if (!t->skipped[k])
            continue;
        nskip += t->skipped[k];
        int w = snprintf(skipped + o, sizeof skipped - o, "%s%s %" PRIu64, o ? ", " : " (",
                         repair_skip_names[k], t->skipped[k]);
        if (w > 0 && (size_t)w < sizeof skipped - o)
            o += (size_t)w;
    }
    if (o && o + 1 < sizeof skipped) {
        skipped[o++] = ')';
        skipped[o] = '\0';
    }
    r->host->log(r->ctx,
                 "%sexamined %" PRIu64 " entries; %s %s %" PRIu64 ", %s %" PRIu64 ", %s %" PRIu64
                 "; skipped %" PRIu64 "%s; excluded %" PRIu64 "; errors %" PRIu64,
                 r->dry_run ? "dry run, nothing changed: " : "", t->examined,
                 r->dry_run ? "would change" : "changed", repair_change_names[REPAIR_GROUP],
                 t->changed[REPAIR_GROUP], repair_change_names[REPAIR_SETGID],
                 t->changed[REPAIR_SETGID], repair_change_names[REPAIR_MODE],
                 t->changed[REPAIR_MODE], nskip, skipped, t->excluded, t->errors);
}

static int repair_finish(void *instance, int32_t scan_status)
{
    repair_instance *r = instance;
    repair_summary(r);
    if (r->log_fd < 0)
        return PWALK_OK;

    r->log_fd = -1; /* the outfile closes it */
    char err[512];
    if (scan_status != 0) {
        if (!r->dry_run && r->total.changed[REPAIR_GROUP] + r->total.changed[REPAIR_SETGID] +
                                   r->total.changed[REPAIR_MODE] >
                               0) {
            /* Changes were made: their record is kept, under a name that
             * cannot pass for a complete log. */
            if (outfile_commit_suffix(&r->log, ".incomplete", err, sizeof err) == 0) {
                r->host->log(r->ctx,
                             "scan did not complete; changes made so far are in %s.incomplete",
                             r->log_path);
                return PWALK_OK;
            }
            r->host->log(r->ctx, "%s", err);
        }
        outfile_abort(&r->log);
        r->host->log(r->ctx, "scan did not complete; %s not written", r->log_path);
        return PWALK_OK;
    }
    if (r->out_errno) {
        outfile_abort(&r->log);
        r->host->set_error(r->ctx, "cannot publish the change log %s: %s", r->log_path,
                           strerror(r->out_errno));
        return PWALK_ERR_IO;
    }
    /* sync, close, check the directory is still the one opened, rename
     * through its fd, sync the directory */
    if (outfile_commit(&r->log, err, sizeof err) != 0) {
        r->host->set_error(r->ctx, "cannot publish the change log: %s", err);
        return PWALK_ERR_IO;
    }
    return PWALK_OK;
}

static void repair_destroy(void *instance)
{
    repair_instance *r = instance;
    if (!r)
        return;
    if (r->log.final_path) /* opened and neither committed nor abandoned */
        outfile_abort(&r->log);
    free(r->log_path);
    free(r->change_gids);
    for (size_t i = 0; i < r->gid_cap; i++) /* the cache's rules are its own */
        free((char *)r->gids[i].info.rule);
    free(r->gids);
    if (r->gid_lock_ready)
        pthread_mutex_destroy(&r->gid_lock);
    for (size_t i = 0; i < r->exclude_count; i++)
        free(r->excludes[i].text);
    free(r->excludes);
    if (r->out_lock_ready)
        pthread_mutex_destroy(&r->out_lock);
    free(r);
}

/* ---- the entry point --------------------------------------------------------------- */

static const pwalk_plugin repair_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .flags = PWALK_PLUGIN_MUTATES_FS,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = (uint32_t)REPAIR_OPTION_COUNT,
    .name = "repair-action",
    .version = REPAIR_VERSION,
    .description = "restore project group ownership, setgid and group permissions "
                   "(safe as root)",
    .options = repair_options,
    .create = repair_create,
    .thread_open = repair_thread_open,
    .consume = repair_consume,
    .error = NULL,
    .thread_close = repair_thread_close,
    .finish = repair_finish,
    .destroy = repair_destroy,
};

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void);

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void) { return &repair_plugin; }
