/*
 * _pwalk.c -- the C side of the pwalk Python package (CPython C API only).
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Two services:
 *
 *  run_pipeline()  one whole scan through libpwalk's public API
 *                  (pwalk/pwalk.h, the only engine header used here), the
 *                  library pwalk-engine runs, so a report made from Python
 *                  is byte for byte the CLI's.  The scan runs on a thread of
 *                  its own with every signal blocked; this thread waits with
 *                  the GIL released and looks at Python's signal flags every
 *                  50 ms, so Ctrl-C stops this scan (pwalk_scan_stop: outputs
 *                  abandoned, like the CLI's exit 130) and then raises
 *                  KeyboardInterrupt here.  Each call has its own handle and
 *                  no lock, so Python threads run scans concurrently.  Error
 *                  records arrive on walk threads and are copied into a C
 *                  array there; only the optional Python callbacks take the
 *                  GIL.
 *
 *  Walker          the read-ahead listings behind pwalk.walk()
 *                  (src/oswalk_readahead.c) turned into the lists
 *                  os.walk() yields.  The generator logic itself is Python
 *                  (pwalk/_walk.py), so it can follow os.walk() line by line.
 *
 * and, from scan_iter.c, Entry and EntryQueue behind pwalk.scan(): the
 * consumer of a walk-iterator sink, attached with run_pipeline(attach=).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "oswalk_readahead.h"
#include "pwalk/plugin.h"
#include "pwalk/pwalk.h"
#include "pwalk/sys/attach.h"
#include "scan_iter.h"

#define PW_POLL_NS (50 * 1000 * 1000L)

/* ---- small helpers ----------------------------------------------------------- */

/* A name or path from the filesystem as os.scandir() returns it: bytes for
 * a bytes walk, else str decoded with the filesystem codec (surrogateescape),
 * with a shortcut for 7-bit names (the common case, and the same result). */
static PyObject *pw_name(const char *p, size_t n, int as_str, int ascii)
{
    if (!as_str)
        return PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
    if (ascii) {
        PyObject *s = PyUnicode_New((Py_ssize_t)n, 127);
        if (s)
            memcpy(PyUnicode_1BYTE_DATA(s), p, n);
        return s;
    }
    return PyUnicode_DecodeFSDefaultAndSize(p, (Py_ssize_t)n);
}

static int pw_is_ascii(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return 0;
    return 1;
}

/* Messages from the engine quote paths, which may be any bytes. */
static PyObject *pw_message(const char *m)
{
    return PyUnicode_DecodeUTF8(m, (Py_ssize_t)strlen(m), "backslashreplace");
}

/* Encode a str/bytes path to bytes (new reference), as os functions do. */
static PyObject *pw_encode(PyObject *path, int *as_str)
{
    if (PyUnicode_Check(path)) {
        *as_str = 1;
        return PyUnicode_EncodeFSDefault(path);
    }
    if (PyBytes_Check(path)) {
        *as_str = 0;
        Py_INCREF(path);
        return path;
    }
    PyErr_Format(PyExc_TypeError, "path should be str or bytes, not %.100s",
                 Py_TYPE(path)->tp_name);
    return NULL;
}

/* ==== Walker ================================================================= */

typedef struct {
    PyObject_HEAD
    wa_walker *w;
    wa_node **open;             /* nodes the generator still holds (a stack) */
    size_t nopen, capopen;
    int followlinks;
    unsigned readers;           /* 0: every listing is read when taken    */
    char **skip;
    size_t nskip;
} WalkerObject;

/* Called by wa_take() on this thread while it waits for a reader. */
static int walker_poll(void *ctx)
{
    PyThreadState **ts = ctx;
    PyEval_RestoreThread(*ts);
    int stop = PyErr_CheckSignals() < 0;
    *ts = PyEval_SaveThread();
    return stop;
}

static void walker_close(WalkerObject *self)
{
    if (!self->w)
        return;
    wa_walker *w = self->w;
    self->w = NULL;
    /* joining the readers can take as long as one directory read */
    Py_BEGIN_ALLOW_THREADS
    wa_destroy(w);
    Py_END_ALLOW_THREADS
    self->nopen = 0;
}

static void Walker_dealloc(WalkerObject *self)
{
    walker_close(self);
    free(self->open);
    for (size_t i = 0; i < self->nskip; i++)
        free(self->skip[i]);
    free(self->skip);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Walker_init(WalkerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"readers", "followlinks", "skip_dirs", "max_bytes", "max_dirs",
                             NULL};
    unsigned int readers = 2;
    int followlinks = 0;
    PyObject *skip = NULL;
    Py_ssize_t max_bytes = 16 << 20, max_dirs = 4096;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|IpOnn", kwlist, &readers, &followlinks, &skip,
                                     &max_bytes, &max_dirs))
        return -1;
    if (self->w) {
        PyErr_SetString(PyExc_RuntimeError, "Walker already initialised");
        return -1;
    }
    if (readers > 1024) {
        PyErr_SetString(PyExc_ValueError, "readers: at most 1024");
        return -1;
    }
    if (max_bytes < 1 || max_dirs < 1) {
        PyErr_SetString(PyExc_ValueError, "max_bytes and max_dirs must be positive");
        return -1;
    }
    if (skip && skip != Py_None) {
        PyObject *seq = PySequence_Fast(skip, "skip_dirs must be a sequence");
        if (!seq)
            return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        self->skip = calloc((size_t)n + 1, sizeof *self->skip);
        if (!self->skip) {
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            int as_str;
            PyObject *b = pw_encode(PySequence_Fast_GET_ITEM(seq, i), &as_str);
            if (!b) {
                Py_DECREF(seq);
                return -1;
            }
            self->skip[i] = strdup(PyBytes_AS_STRING(b));
            Py_DECREF(b);
            if (!self->skip[i]) {
                Py_DECREF(seq);
                PyErr_NoMemory();
                return -1;
            }
            self->nskip = (size_t)i + 1;
        }
        Py_DECREF(seq);
    }
    wa_options o;
    memset(&o, 0, sizeof o);
    o.readers = readers;
    o.followlinks = followlinks;
    o.max_bytes = (size_t)max_bytes;
    o.max_dirs = (size_t)max_dirs;
    o.skip_dirs = self->skip;
    o.skip_dir_count = self->nskip;
    self->followlinks = followlinks;
    self->readers = readers;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = wa_create(&o, &self->w);
    Py_END_ALLOW_THREADS
    if (rc != 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int walker_check(WalkerObject *self)
{
    if (!self->w) {
        PyErr_SetString(PyExc_ValueError, "the walk is closed");
        return -1;
    }
    return 0;
}

/* scan(path, bottomup) -> (errno, dirnames, filenames, walk_into)
 *
 * errno != 0: os.scandir(path) would have raised OSError(errno); the lists
 * are None.  walk_into (bottom-up only) holds entry.path of every
 * subdirectory os.walk descends into: the joined bytes decoded again, as
 * DirEntry.path is, which is not always os.path.join(path, name) for str
 * paths holding surrogate escapes.  On success the directory stays held
 * (prune()/pop() act on the most recent one). */
/* Append entry.path of p[0..len)'s subdirectory nm[0..nlen) to into,
 * joined in *joined (grown as needed).  0, or -1 with an exception set. */
static int walker_walk_into(PyObject *into, char **joined, size_t *joined_cap, const char *p,
                            size_t len, const char *nm, size_t nlen, int as_str, int ascii)
{
    int sep = len > 0 && p[len - 1] != '/';
    size_t need = len + 1 + nlen;
    if (need > *joined_cap) {
        char *g = realloc(*joined, need);
        if (!g) {
            PyErr_NoMemory();
            return -1;
        }
        *joined = g;
        *joined_cap = need;
    }
    memcpy(*joined, p, len);
    if (sep)
        (*joined)[len] = '/';
    memcpy(*joined + len + sep, nm, nlen);
    PyObject *jp = pw_name(*joined, len + (size_t)sep + nlen, as_str, ascii);
    if (!jp || PyList_Append(into, jp) != 0) {
        Py_XDECREF(jp);
        return -1;
    }
    Py_DECREF(jp);
    return 0;
}

/* The listing L of directory p[0..len) as out[] = (dirnames, filenames,
 * walk_into or None).  0, or -1 with an exception set and out[] unset. */
static int walker_lists(WalkerObject *self, const wa_listing *L, const char *p, size_t len,
                        int as_str, int bottomup, PyObject *out[3])
{
    PyObject *dirs = PyList_New((Py_ssize_t)L->ndirs);
    PyObject *files = PyList_New((Py_ssize_t)(L->count - L->ndirs));
    PyObject *into = bottomup ? PyList_New(0) : (Py_INCREF(Py_None), Py_None);
    char *joined = NULL;
    size_t joined_cap = 0;
    int path_ascii = pw_is_ascii(p, len);
    if (!dirs || !files || !into)
        goto fail;
    const char *nm = L->names;
    Py_ssize_t di = 0, fi = 0;
    for (size_t i = 0; i < L->count; nm += L->lens[i] + 1, i++) {
        uint8_t fl = L->flags[i];
        PyObject *o = pw_name(nm, L->lens[i], as_str, fl & WA_ASCII);
        if (!o)
            goto fail;
        if (fl & WA_DIR)
            PyList_SET_ITEM(dirs, di++, o);
        else
            PyList_SET_ITEM(files, fi++, o);
        if (bottomup && (fl & WA_DIR) && (self->followlinks || !(fl & WA_LINK)) &&
            walker_walk_into(into, &joined, &joined_cap, p, len, nm, L->lens[i], as_str,
                             path_ascii && (fl & WA_ASCII)) != 0)
            goto fail;
    }
    free(joined);
    out[0] = dirs;
    out[1] = files;
    out[2] = into;
    return 0;
fail:
    free(joined);
    Py_XDECREF(dirs);
    Py_XDECREF(files);
    Py_XDECREF(into);
    return -1;
}

/* Room for one more held directory.  0, or -1 with MemoryError set. */
static int walker_reserve_open(WalkerObject *self)
{
    if (self->nopen < self->capopen)
        return 0;
    size_t cap = self->capopen ? self->capopen * 2 : 64;
    wa_node **grown = realloc(self->open, cap * sizeof *grown);
    if (!grown) {
        PyErr_NoMemory();
        return -1;
    }
    self->open = grown;
    self->capopen = cap;
    return 0;
}

static PyObject *Walker_scan(WalkerObject *self, PyObject *args)
{
    PyObject *path;
    int bottomup;
    if (!PyArg_ParseTuple(args, "Op", &path, &bottomup) || walker_check(self))
        return NULL;
    int as_str;
    PyObject *enc = pw_encode(path, &as_str);
    if (!enc)
        return NULL;
    const char *p = PyBytes_AS_STRING(enc);
    size_t len = (size_t)PyBytes_GET_SIZE(enc);
    if (memchr(p, '\0', len)) {
        Py_DECREF(enc);
        PyErr_SetString(PyExc_ValueError, "scandir: embedded null character in path");
        return NULL;
    }
    if (walker_reserve_open(self) != 0) {
        Py_DECREF(enc);
        return NULL;
    }

    PyThreadState *ts = PyEval_SaveThread();
    wa_node *n = wa_take(self->w, p, len, walker_poll, &ts);
    int take_errno = errno;
    PyEval_RestoreThread(ts);
    if (!n) {
        Py_DECREF(enc);
        if (PyErr_Occurred())
            return NULL; /* a signal handler raised (KeyboardInterrupt) */
        errno = take_errno;
        return PyErr_SetFromErrno(PyExc_OSError);
    }

    wa_listing L;
    wa_listing_of(n, &L);
    if (L.error) {
        wa_release(self->w, n);
        Py_DECREF(enc);
        return Py_BuildValue("(iOOO)", L.error, Py_None, Py_None, Py_None);
    }
    PyObject *lists[3];
    int rc = walker_lists(self, &L, p, len, as_str, bottomup, lists);
    Py_DECREF(enc);
    if (rc != 0) {
        wa_release(self->w, n);
        return NULL;
    }
    wa_drop_listing(self->w, n);
    self->open[self->nopen++] = n;
    return Py_BuildValue("(iNNN)", 0, lists[0], lists[1], lists[2]);
}

/* prune(names): the most recent directory's subdirectories will be visited
 * in this order and no others; read-ahead below the rest is cancelled.
 * Names that are not str/bytes (or do not encode) are left to be read when
 * visited. */
static PyObject *Walker_prune(WalkerObject *self, PyObject *arg)
{
    if (walker_check(self))
        return NULL;
    if (!self->nopen) {
        PyErr_SetString(PyExc_RuntimeError, "prune() without a directory");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(arg, "prune() needs a sequence");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    const char **names = calloc((size_t)n + 1, sizeof *names);
    size_t *lens = calloc((size_t)n + 1, sizeof *lens);
    PyObject *keep = PyList_New(0); /* holds encoded copies alive */
    size_t k = 0;
    if (!names || !lens || !keep) {
        free(names);
        free(lens);
        Py_XDECREF(keep);
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
        if (PyUnicode_Check(o) && PyUnicode_IS_ASCII(o)) {
            names[k] = (const char *)PyUnicode_1BYTE_DATA(o);
            lens[k++] = (size_t)PyUnicode_GET_LENGTH(o);
        } else if (PyUnicode_Check(o)) {
            PyObject *b = PyUnicode_EncodeFSDefault(o);
            if (!b || PyList_Append(keep, b) != 0) {
                Py_XDECREF(b);
                PyErr_Clear();
                continue;
            }
            Py_DECREF(b);
            names[k] = PyBytes_AS_STRING(b);
            lens[k++] = (size_t)PyBytes_GET_SIZE(b);
        } else if (PyBytes_Check(o)) {
            names[k] = PyBytes_AS_STRING(o);
            lens[k++] = (size_t)PyBytes_GET_SIZE(o);
        }
    }
    int rc = wa_prune(self->w, self->open[self->nopen - 1], names, lens, k);
    free(names);
    free(lens);
    Py_DECREF(keep);
    Py_DECREF(seq);
    if (rc != 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* pop(): done with the most recent directory. */
static PyObject *Walker_pop(WalkerObject *self, PyObject *unused)
{
    (void)unused;
    if (walker_check(self))
        return NULL;
    if (!self->nopen) {
        PyErr_SetString(PyExc_RuntimeError, "pop() without a directory");
        return NULL;
    }
    wa_release(self->w, self->open[--self->nopen]);
    Py_RETURN_NONE;
}

/* islink(path): os.path.islink(), answered without a system call for the
 * subdirectories read ahead (known not to be symlinks).  Without readers
 * nothing is read ahead, so ask the filesystem now, as os.walk does: a
 * directory replaced by a symlink after its parent was listed is then not
 * walked, exactly as os.walk leaves it. */
static PyObject *Walker_islink(WalkerObject *self, PyObject *path)
{
    if (walker_check(self))
        return NULL;
    int as_str;
    PyObject *enc = pw_encode(path, &as_str);
    if (!enc) {
        /* os.path.islink: a path that cannot be encoded is not a link */
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            Py_RETURN_FALSE;
        }
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(enc);
    size_t len = (size_t)PyBytes_GET_SIZE(enc);
    int link = 0;
    if (!memchr(p, '\0', len) &&
        !(self->readers && !self->followlinks && wa_is_known_dir(self->w, p, len))) {
        struct stat st;
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = lstat(p, &st);
        Py_END_ALLOW_THREADS
        link = rc == 0 && S_ISLNK(st.st_mode);
    }
    Py_DECREF(enc);
    return PyBool_FromLong(link);
}

static PyObject *Walker_close(WalkerObject *self, PyObject *unused)
{
    (void)unused;
    walker_close(self);
    Py_RETURN_NONE;
}

static PyObject *Walker_stats(WalkerObject *self, PyObject *unused)
{
    (void)unused;
    if (walker_check(self))
        return NULL;
    wa_stats s;
    wa_get_stats(self->w, &s);
    return Py_BuildValue("{sKsKsKsKsnsnsI}", "read_ahead", (unsigned long long)s.read_ahead,
                         "read_inline", (unsigned long long)s.read_inline, "waited",
                         (unsigned long long)s.waited, "cancelled",
                         (unsigned long long)s.cancelled, "peak_bytes", (Py_ssize_t)s.peak_bytes,
                         "peak_dirs", (Py_ssize_t)s.peak_dirs, "readers", s.readers);
}

static PyMethodDef Walker_methods[] = {
    {"scan", (PyCFunction)Walker_scan, METH_VARARGS,
     "scan(path, bottomup) -> (errno, dirnames, filenames, walk_into)"},
    {"prune", (PyCFunction)Walker_prune, METH_O,
     "prune(names): only these subdirectories of the last directory will be visited"},
    {"pop", (PyCFunction)Walker_pop, METH_NOARGS, "pop(): done with the last directory"},
    {"islink", (PyCFunction)Walker_islink, METH_O, "islink(path) -> bool"},
    {"close", (PyCFunction)Walker_close, METH_NOARGS, "stop and join the reader threads"},
    {"stats", (PyCFunction)Walker_stats, METH_NOARGS, "read-ahead counters"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject WalkerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pwalk._pwalk.Walker",
    .tp_basicsize = sizeof(WalkerObject),
    .tp_dealloc = (destructor)Walker_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Directory listings read ahead by threads, for pwalk.walk()",
    .tp_methods = Walker_methods,
    .tp_init = (initproc)Walker_init,
    .tp_new = PyType_GenericNew,
};

/* ==== run_pipeline ============================================================ */

typedef struct pw_err {
    char *path;
    size_t len;
    int error_number;
    char operation[32];
    unsigned kind;              /* PWALK_RECORD_* */
} pw_err;

/* One scan from Python.  Everything but the callbacks' Python calls runs
 * without the GIL; the handle is the scan's own, so scans from different
 * Python threads run at the same time (the library keeps no process-wide
 * state) and a failing sink or a Ctrl-C stops only this one. */
typedef struct pw_job {
    pwalk_scan *s;
    int status;
    pthread_mutex_t m;
    pthread_cond_t cv;
    int done;
    pthread_mutex_t elock;
    pw_err *errs;
    size_t nerrs, caperrs;
    uint64_t lost;              /* records not kept (out of memory) */
    PyObject *on_error;         /* Python callables or NULL (borrowed: the */
    PyObject *on_progress;      /* caller's arguments outlive the scan)    */
    /* the first exception a callback raised (GIL held to touch these) */
    PyObject *exc_type, *exc_value, *exc_tb;
} pw_job;

/* A callback raised: keep the first exception (run_pipeline re-raises it)
 * and stop this scan, so nothing is published.  GIL held. */
static void pw_callback_failed(pw_job *j)
{
    if (!j->exc_type)
        PyErr_Fetch(&j->exc_type, &j->exc_value, &j->exc_tb);
    else
        PyErr_Clear();
    pwalk_scan_stop(j->s, SIGINT);
}

static void pw_call_on_error(pw_job *j, const char *path, size_t len, int error_number,
                             const char *operation, unsigned kind)
{
    PyGILState_STATE g = PyGILState_Ensure();
    if (!j->exc_type) {
        PyObject *r = PyObject_CallFunction(j->on_error, "y#isI", path, (Py_ssize_t)len,
                                            error_number, operation ? operation : "", kind);
        if (r)
            Py_DECREF(r);
        else
            pw_callback_failed(j);
    }
    PyGILState_Release(g);
}

/* Walk worker threads, concurrently: copy the record (no Python here unless
 * the caller asked for on_error). */
static void pw_on_error(void *ctx, const char *path, size_t len, int error_number,
                        const char *operation, unsigned kind)
{
    pw_job *j = ctx;
    char *copy = malloc(len + 1);
    pthread_mutex_lock(&j->elock);
    if (copy && j->nerrs == j->caperrs) {
        size_t cap = j->caperrs ? j->caperrs * 2 : 64;
        pw_err *g = realloc(j->errs, cap * sizeof *g);
        if (g) {
            j->errs = g;
            j->caperrs = cap;
        } else {
            free(copy);
            copy = NULL;
        }
    }
    if (copy) {
        memcpy(copy, path, len);
        copy[len] = '\0';
        pw_err *e = &j->errs[j->nerrs++];
        e->path = copy;
        e->len = len;
        e->error_number = error_number;
        e->kind = kind;
        snprintf(e->operation, sizeof e->operation, "%s", operation ? operation : "");
    } else {
        j->lost++;
    }
    pthread_mutex_unlock(&j->elock);
    if (j->on_error)
        pw_call_on_error(j, path, len, error_number, operation, kind);
}

/* The thread running pwalk_scan_run(), about once a second. */
static void pw_on_progress(void *ctx, const pwalk_progress *p)
{
    pw_job *j = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    if (!j->exc_type) {
        PyObject *r = PyObject_CallFunction(
            j->on_progress, "((KKKKKKdI))", (unsigned long long)p->entries,
            (unsigned long long)p->rows, (unsigned long long)p->dirs,
            (unsigned long long)p->errors, (unsigned long long)p->vanished,
            (unsigned long long)p->queued, p->seconds, (unsigned int)p->threads);
        if (r)
            Py_DECREF(r);
        else
            pw_callback_failed(j);
    }
    PyGILState_Release(g);
}

static void *pw_job_main(void *arg)
{
    pw_job *j = arg;
    int status = pwalk_scan_run(j->s);
    pthread_mutex_lock(&j->m);
    j->status = status;
    j->done = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->m);
    return NULL;
}

static void pw_deadline(struct timespec *t)
{
    clock_gettime(CLOCK_REALTIME, t);
    t->tv_nsec += PW_POLL_NS;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static int pw_strv_from(PyObject *list, char ***out, size_t *count, const char *what)
{
    *out = NULL;
    *count = 0;
    if (!list || list == Py_None)
        return 0;
    PyObject *seq = PySequence_Fast(list, what);
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(o)) {
            PyErr_Format(PyExc_TypeError, "%s: items must be bytes", what);
            goto fail;
        }
        if (memchr(PyBytes_AS_STRING(o), '\0', (size_t)PyBytes_GET_SIZE(o))) {
            PyErr_Format(PyExc_ValueError, "%s: embedded null character", what);
            goto fail;
        }
        v[i] = strdup(PyBytes_AS_STRING(o));
        if (!v[i]) {
            PyErr_NoMemory();
            goto fail;
        }
        *count = (size_t)i + 1;
    }
    Py_DECREF(seq);
    *out = v;
    return 0;
fail:
    for (size_t i = 0; i < *count; i++)
        free(v[i]);
    free(v);
    *count = 0;
    Py_DECREF(seq);
    return -1;
}

static void pw_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* What the preparation found, for Python to turn into an exception. */
enum { PW_STAGE_OK = 0, PW_STAGE_CONFIG, PW_STAGE_ROOT, PW_STAGE_MEMORY };

/* A run_pipeline() call's inputs, copied out of Python objects so the
 * scan can be built without the GIL. */
typedef struct pw_args {
    char *text, *fpath, *src_name;
    size_t text_len;
    char **roots, **sets, **dirs;
    size_t nroots, nsets, ndirs;
    int threads;
    char *resume;               /* resume=: a checkpoint journal, or NULL */
    char **attach_names;        /* attach=[(sink, capsule)]: the capsules */
    void **attach_ptrs;         /* live in the caller's list              */
    size_t nattach;
} pw_args;

static void pw_args_free(pw_args *a)
{
    pw_strv_free(a->roots, a->nroots);
    pw_strv_free(a->sets, a->nsets);
    pw_strv_free(a->dirs, a->ndirs);
    free(a->text);
    free(a->fpath);
    free(a->src_name);
    free(a->resume);
    pw_strv_free(a->attach_names, a->nattach);
    free(a->attach_ptrs);
}

/* attach: [(sink name bytes, consumer capsule)] (pwalk.scan()'s queue). */
static int pw_attach_from(PyObject *list, pw_args *a)
{
    if (list == Py_None)
        return 0;
    PyObject *seq = PySequence_Fast(list, "attach must be a list of (sink, capsule)");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    a->attach_names = calloc((size_t)n + 1, sizeof *a->attach_names);
    a->attach_ptrs = calloc((size_t)n + 1, sizeof *a->attach_ptrs);
    int rc = a->attach_names && a->attach_ptrs ? 0 : (PyErr_NoMemory(), -1);
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
        const char *name;
        PyObject *cap;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "yO", &name, &cap) ||
            !(a->attach_ptrs[i] = scan_iter_consumer_of(cap)) ||
            !(a->attach_names[i] = strdup(name)))
            rc = PyErr_Occurred() ? -1 : (PyErr_NoMemory(), -1);
        else
            a->nattach = (size_t)i + 1;
    }
    Py_DECREF(seq);
    return rc;
}

/* Build the handle from a (no GIL): the pipeline, then the sets, roots,
 * threads and plugin directories, as the command line applies them.
 * Returns a PW_STAGE_*; err says why for CONFIG. */
static int pw_build(const pw_args *a, pwalk_scan **out, char *err, size_t errlen)
{
    pwalk_scan *s = NULL;
    int rc;
    *out = NULL;
    if (a->text)
        rc = pwalk_scan_from_string(&s, a->text, a->text_len, a->src_name, err, errlen);
    else if (a->fpath)
        rc = pwalk_scan_from_file(&s, a->fpath, err, errlen);
    else
        rc = pwalk_scan_new(&s);
    if (rc != 0)
        return s || a->text || a->fpath ? PW_STAGE_CONFIG : PW_STAGE_MEMORY;
    *out = s;
    for (size_t i = 0; i < a->nsets; i++)
        if (pwalk_scan_set(s, a->sets[i], err, errlen) != 0)
            return PW_STAGE_CONFIG;
    if (a->nroots && pwalk_scan_set_roots(s, (const char *const *)a->roots, a->nroots) != 0)
        return PW_STAGE_MEMORY;
    if (a->threads > 0) {
        char set[64];
        snprintf(set, sizeof set, "scan.threads=%d", a->threads);
        if (pwalk_scan_set(s, set, err, errlen) != 0)
            return PW_STAGE_CONFIG;
    }
    for (size_t i = 0; i < a->ndirs; i++)
        if (pwalk_scan_add_plugin_dir(s, a->dirs[i]) != 0)
            return PW_STAGE_MEMORY;
    for (size_t i = 0; i < a->nattach; i++)
        if (pwalk_scan_attach(s, a->attach_names[i], a->attach_ptrs[i], err, errlen) != 0)
            return PW_STAGE_CONFIG;
    if (a->resume && pwalk_scan_resume(s, (const char *const *)&a->resume, 1, err, errlen) != 0)
        return PW_STAGE_CONFIG;
    if (pwalk_scan_root_count(s) == 0) {
        snprintf(err, errlen, "%s: no paths to scan: give roots or scan.roots",
                 a->text ? a->src_name : a->fpath ? a->fpath : "<defaults>");
        return PW_STAGE_CONFIG;
    }
    return PW_STAGE_OK;
}

/* Run j->s on a thread of its own with every signal blocked, so Ctrl-C
 * reaches this (Python) thread, which stops the scan (pwalk_scan_stop: this
 * scan only) and never interrupts a system call of the library's.  Called
 * with the GIL released (*ts); returns 1 when a signal handler raised. */
static int pw_run_job(pw_job *j, PyThreadState **ts)
{
    int interrupted = 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    int started = pthread_create(&th, NULL, pw_job_main, j) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        pw_job_main(j); /* no thread: run here, without Ctrl-C */
        return 0;
    }
    pthread_mutex_lock(&j->m);
    while (!j->done) {
        struct timespec t;
        pw_deadline(&t);
        pthread_cond_timedwait(&j->cv, &j->m, &t);
        if (j->done || interrupted)
            continue;
        pthread_mutex_unlock(&j->m);
        PyEval_RestoreThread(*ts);
        if (PyErr_CheckSignals() < 0)
            interrupted = 1;
        *ts = PyEval_SaveThread();
        if (interrupted)
            pwalk_scan_stop(j->s, SIGINT); /* kept if the run has not started yet */
        pthread_mutex_lock(&j->m);
    }
    pthread_mutex_unlock(&j->m);
    pthread_join(th, NULL);
    return interrupted;
}

static PyObject *pw_options_dict(const pwalk_scan *s, size_t i)
{
    PyObject *d = PyDict_New();
    size_t n = pwalk_scan_sink_option_count(s, i);
    for (size_t k = 0; d && k < n; k++) {
        const char *value = NULL;
        const char *const *items = NULL;
        size_t count = 0;
        const char *key = pwalk_scan_sink_option_at(s, i, k, &value, &items, &count);
        PyObject *v;
        if (!key)
            continue;
        if (items) {
            v = PyList_New((Py_ssize_t)count);
            for (size_t m = 0; v && m < count; m++) {
                PyObject *it = PyBytes_FromString(items[m]);
                if (!it) {
                    Py_CLEAR(v);
                    break;
                }
                PyList_SET_ITEM(v, (Py_ssize_t)m, it);
            }
        } else {
            v = PyBytes_FromString(value ? value : "");
        }
        if (!v || PyDict_SetItemString(d, key, v) != 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *pw_bytes_or_none(const char *p)
{
    if (!p)
        Py_RETURN_NONE;
    return PyBytes_FromString(p);
}

/* The counters of the filter reasons, by the names the summary uses. */
static PyObject *pw_filtered(const pwalk_scan *s)
{
    PyObject *filtered = PyDict_New();
    for (int c = PWALK_COUNT_FILTERED_SNAPSHOT; filtered && c <= PWALK_COUNT_FILTERED_OWN_OUTPUT;
         c++) {
        PyObject *v = PyLong_FromUnsignedLongLong(pwalk_scan_counter(s, (pwalk_counter)c));
        if (!v || PyDict_SetItemString(filtered, pwalk_counter_name((pwalk_counter)c), v) != 0)
            Py_CLEAR(filtered);
        Py_XDECREF(v);
    }
    return filtered;
}

static PyObject *pw_errors_list(const pw_job *j)
{
    PyObject *errors = PyList_New((Py_ssize_t)j->nerrs);
    for (size_t i = 0; errors && i < j->nerrs; i++) {
        const pw_err *e = &j->errs[i];
        PyObject *t = Py_BuildValue("(y#isI)", e->path, (Py_ssize_t)e->len, e->error_number,
                                    e->operation, e->kind);
        if (!t)
            Py_CLEAR(errors);
        else
            PyList_SET_ITEM(errors, (Py_ssize_t)i, t);
    }
    return errors;
}

static PyObject *pw_sinks_list(const pwalk_scan *s)
{
    size_t n = pwalk_scan_sink_count(s);
    PyObject *sinks = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; sinks && i < n; i++) {
        PyObject *opts = pw_options_dict(s, i);
        PyObject *t = opts ? Py_BuildValue("(ssKN)", pwalk_scan_sink_name(s, i),
                                           pwalk_scan_sink_plugin(s, i),
                                           (unsigned long long)pwalk_scan_sink_rows(s, i), opts)
                           : NULL;
        if (!t)
            Py_CLEAR(sinks);
        else
            PyList_SET_ITEM(sinks, (Py_ssize_t)i, t);
    }
    return sinks;
}

static unsigned long long pw_count(const pwalk_scan *s, pwalk_counter c)
{
    return (unsigned long long)pwalk_scan_counter(s, c);
}

/* The finished scan as a dict: every number and name comes from the
 * handle's fields (failure, failed_sink: no message parsing). */
static PyObject *pw_result(const pwalk_scan *s, const pw_job *j)
{
    PyObject *filtered = pw_filtered(s);
    PyObject *errors = filtered ? pw_errors_list(j) : NULL;
    PyObject *sinks = errors ? pw_sinks_list(s) : NULL;
    PyObject *errpath = sinks ? pw_bytes_or_none(pwalk_scan_errors_path(s)) : NULL;
    if (!errpath) {
        Py_XDECREF(sinks);
        Py_XDECREF(errors);
        Py_XDECREF(filtered);
        return NULL;
    }
    const char *fsink = pwalk_scan_failed_sink(s), *fmsg = pwalk_scan_failed_message(s);
    return Py_BuildValue(
        "{sisisNsNsKsKsKsKsKsKsKsKsdsNsNsNsKsNsisNsN}", "stage", PW_STAGE_OK, "status",
        pwalk_scan_status(s), "message", pw_message(pwalk_scan_message(s)), "summary",
        pw_message(pwalk_scan_summary(s)), "entries", pw_count(s, PWALK_COUNT_ENTRIES),
        "rows", pw_count(s, PWALK_COUNT_ROWS), "dirs", pw_count(s, PWALK_COUNT_DIRS),
        "error_count", pw_count(s, PWALK_COUNT_ERRORS), "vanished_count",
        pw_count(s, PWALK_COUNT_VANISHED), "walk_errors", pw_count(s, PWALK_COUNT_WALK_ERRORS),
        "stat_errors", pw_count(s, PWALK_COUNT_STAT_ERRORS), "read_errors",
        pw_count(s, PWALK_COUNT_READ_ERRORS), "seconds", pwalk_scan_seconds(s), "filtered",
        filtered, "errors", errors, "sinks", sinks, "errors_lost", (unsigned long long)j->lost,
        "errors_path", errpath, "failure", (int)pwalk_scan_failure(s), "failed_sink",
        fsink ? pw_message(fsink) : (Py_INCREF(Py_None), Py_None), "failed_message",
        fmsg ? pw_message(fmsg) : (Py_INCREF(Py_None), Py_None));
}

/* What a scan that did not get to walk says (config, root, plugin). */
static PyObject *pw_early_result(int stage, const char *err, const pwalk_scan *s)
{
    if (stage == PW_STAGE_MEMORY)
        return PyErr_NoMemory();
    if (stage == PW_STAGE_CONFIG)
        return Py_BuildValue("{sisN}", "stage", stage, "message", pw_message(err));
    pwalk_failure f = pwalk_scan_failure(s);
    if (f == PWALK_FAIL_ROOT)
        return Py_BuildValue("{sisisy}", "stage", PW_STAGE_ROOT, "errno",
                             pwalk_scan_failed_errno(s), "root", pwalk_scan_failed_path(s));
    return Py_BuildValue("{sisN}", "stage", PW_STAGE_CONFIG, "message",
                         pw_message(pwalk_scan_message(s)));
}

static int pw_args_from(PyObject *yaml, PyObject *file, const char *name, PyObject *roots,
                        PyObject *sets, PyObject *dirs, PyObject *resume, pw_args *a)
{
    if ((yaml != Py_None && !PyBytes_Check(yaml)) || (file != Py_None && !PyBytes_Check(file)) ||
        (resume != Py_None && !PyBytes_Check(resume))) {
        PyErr_SetString(PyExc_TypeError, "yaml, file and resume must be bytes");
        return -1;
    }
    if (resume != Py_None && !(a->resume = strdup(PyBytes_AS_STRING(resume)))) {
        PyErr_NoMemory();
        return -1;
    }
    if (pw_strv_from(roots, &a->roots, &a->nroots, "roots") ||
        pw_strv_from(sets, &a->sets, &a->nsets, "sets") ||
        pw_strv_from(dirs, &a->dirs, &a->ndirs, "plugin_dirs"))
        return -1;
    if (yaml != Py_None) {
        a->text_len = (size_t)PyBytes_GET_SIZE(yaml);
        a->text = malloc(a->text_len + 1);
        if (a->text)
            memcpy(a->text, PyBytes_AS_STRING(yaml), a->text_len + 1);
    }
    if (file != Py_None)
        a->fpath = strdup(PyBytes_AS_STRING(file));
    a->src_name = strdup(name ? name : "<python>");
    if ((yaml != Py_None && !a->text) || (file != Py_None && !a->fpath) || !a->src_name) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int pw_callable_or_none(PyObject **o, const char *what)
{
    if (*o == Py_None) {
        *o = NULL;
        return 0;
    }
    if (!PyCallable_Check(*o)) {
        PyErr_Format(PyExc_TypeError, "%s must be callable or None", what);
        return -1;
    }
    return 0;
}

/* GIL held; the scan is over. */
static void pw_job_free(pw_job *j)
{
    pthread_mutex_destroy(&j->m);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->elock);
    for (size_t i = 0; i < j->nerrs; i++)
        free(j->errs[i].path);
    free(j->errs);
    Py_BEGIN_ALLOW_THREADS
    pwalk_scan_free(j->s); /* unloads the plugins */
    Py_END_ALLOW_THREADS
}

/* GIL held, the scan over: the exception a callback or signal handler
 * raised (NULL returned), the early result of a scan that did not get to
 * walk (ran 0), or the finished scan's dict.  Takes job's exception. */
static PyObject *pw_job_result(pw_job *job, int interrupted, int ran, int stage,
                               const char *err)
{
    if (interrupted) {
        /* the exception a signal handler raised is already set */
        Py_XDECREF(job->exc_type);
        Py_XDECREF(job->exc_value);
        Py_XDECREF(job->exc_tb);
        return NULL;
    }
    if (job->exc_type) {
        PyErr_Restore(job->exc_type, job->exc_value, job->exc_tb);
        return NULL;
    }
    if (!ran)
        return pw_early_result(stage, err, job->s);
    return pw_result(job->s, job);
}

/* run_pipeline(yaml=None, file=None, name=None, roots=None, sets=None,
 *              threads=0, plugin_dirs=None, on_error=None,
 *              on_progress=None, attach=None, resume=None) -> dict
 *
 * yaml: the pipeline as YAML text (bytes); file: a pipeline file (bytes
 * path); neither: the built-in defaults.  roots replace scan.roots; sets
 * are "SINK.KEY=VALUE" / "scan.KEY=VALUE" assignments (the CLI's --set);
 * plugin_dirs are appended to plugin_path.  on_error(path, errno,
 * operation, kind) is called for every error record as it happens, on a
 * walk thread holding the GIL; on_progress((entries, rows, dirs, errors,
 * vanished, queued, seconds)) about once a second.  An exception a
 * callback raises stops the scan (nothing published) and propagates.
 * resume: a checkpoint journal (bytes path) the scan continues
 * (pwalk_scan_resume; status 75 = suspended again, failure SUSPENDED).
 *
 * The dict's "stage" says how far it got: CONFIG (message: the library's,
 * naming file:line:column and key, or a plugin or option), ROOT (errno,
 * root), or OK with the scan's status, counters, failure (PWALK_FAIL_*)
 * and failed_sink.  KeyboardInterrupt (or whatever a signal handler
 * raised) propagates after the scan stopped.  No lock: concurrent calls
 * from several Python threads run concurrent scans. */
static PyObject *pw_run_pipeline(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kwlist[] = {"yaml",        "file",     "name",        "roots", "sets",
                             "threads",     "plugin_dirs", "on_error", "on_progress",
                             "attach",      "resume",   NULL};
    PyObject *yaml = Py_None, *file = Py_None, *roots_o = Py_None, *sets_o = Py_None,
             *dirs_o = Py_None, *on_error = Py_None, *on_progress = Py_None,
             *attach_o = Py_None, *resume_o = Py_None;
    const char *name = NULL;
    int threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOzOOiOOOOO", kwlist, &yaml, &file, &name,
                                     &roots_o, &sets_o, &threads, &dirs_o, &on_error,
                                     &on_progress, &attach_o, &resume_o))
        return NULL;
    if (threads < 0) {
        PyErr_SetString(PyExc_ValueError, "threads must be >= 1 (0: automatic)");
        return NULL;
    }
    if (pw_callable_or_none(&on_error, "on_error") ||
        pw_callable_or_none(&on_progress, "on_progress"))
        return NULL;
    pw_args a;
    memset(&a, 0, sizeof a);
    a.threads = threads;
    if (pw_args_from(yaml, file, name, roots_o, sets_o, dirs_o, resume_o, &a) != 0 ||
        pw_attach_from(attach_o, &a) != 0) {
        pw_args_free(&a);
        return NULL;
    }

    pw_job job;
    memset(&job, 0, sizeof job);
    job.on_error = on_error;
    job.on_progress = on_progress;
    pthread_mutex_init(&job.m, NULL);
    pthread_cond_init(&job.cv, NULL);
    pthread_mutex_init(&job.elock, NULL);
    char err[2048] = "";
    int interrupted = 0, ran = 0;

    /* Everything from here to the end of the scan runs without the GIL. */
    PyThreadState *ts = PyEval_SaveThread();
    int stage = pw_build(&a, &job.s, err, sizeof err);
    /* the roots, plugins and options first, so a bad pipeline is told
     * apart (ConfigError, FileNotFoundError) from a sink failing as it runs */
    if (stage == PW_STAGE_OK && pwalk_scan_check(job.s) != 0)
        stage = PW_STAGE_ROOT; /* pw_early_result() reads the failure */
    if (stage == PW_STAGE_OK) {
        pwalk_callbacks cb;
        memset(&cb, 0, sizeof cb);
        cb.struct_size = sizeof cb;
        cb.ctx = &job;
        cb.on_error = pw_on_error;
        cb.on_progress = on_progress ? pw_on_progress : NULL;
        if (pwalk_scan_set_callbacks(job.s, &cb) != 0)
            stage = PW_STAGE_MEMORY;
        else {
            interrupted = pw_run_job(&job, &ts);
            ran = 1;
        }
    }
    PyEval_RestoreThread(ts);

    PyObject *res = pw_job_result(&job, interrupted, ran, stage, err);
    pw_job_free(&job);
    pw_args_free(&a);
    return res;
}

/* ==== small queries =========================================================== */

static PyObject *pw_auto_threads(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    const char *from = "";
    char err[512];
    int n = pwalk_auto_threads(&from, err, sizeof err);
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return Py_BuildValue("(is)", n, from ? from : "");
}

/* The library's default snapshot directory names (scan.snapshot_names). */
static PyObject *pw_snapshot_names(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    pwalk_scan *s = NULL;
    if (pwalk_scan_new(&s) != 0)
        return PyErr_NoMemory();
    PyObject *l = PyList_New(0);
    size_t n = pwalk_scan_snapshot_name_count(s);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *name = PyUnicode_DecodeFSDefault(pwalk_scan_snapshot_name(s, i));
        if (!name || PyList_Append(l, name) != 0)
            Py_CLEAR(l);
        Py_XDECREF(name);
    }
    pwalk_scan_free(s);
    return l;
}

static PyMethodDef pw_methods[] = {
    {"run_pipeline", (PyCFunction)(void (*)(void))pw_run_pipeline, METH_VARARGS | METH_KEYWORDS,
     "run one pipeline through the engine (see pwalk.run)"},
    {"auto_threads", pw_auto_threads, METH_NOARGS,
     "the engine's automatic thread count and where it came from"},
    {"snapshot_names", pw_snapshot_names, METH_NOARGS,
     "the engine's default snapshot directory names"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef pw_module = {
    PyModuleDef_HEAD_INIT, "pwalk._pwalk",
    "The pwalk engine and the walk() read-ahead, for the pwalk package.", -1, pw_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pwalk(void);
PyMODINIT_FUNC PyInit__pwalk(void)
{
    if (PyType_Ready(&WalkerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&pw_module);
    if (!m)
        return NULL;
    if (scan_iter_add_types(m) != 0) { /* pwalk.scan()'s Entry and queue */
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&WalkerType);
    if (PyModule_AddObject(m, "Walker", (PyObject *)&WalkerType) < 0 ||
        PyModule_AddIntConstant(m, "STAGE_OK", PW_STAGE_OK) < 0 ||
        PyModule_AddIntConstant(m, "STAGE_CONFIG", PW_STAGE_CONFIG) < 0 ||
        PyModule_AddIntConstant(m, "STAGE_ROOT", PW_STAGE_ROOT) < 0 ||
        PyModule_AddIntConstant(m, "ABI_MAJOR", PWALK_ABI_MAJOR) < 0 ||
        PyModule_AddIntConstant(m, "ABI_MINOR", PWALK_ABI_MINOR) < 0 ||
        PyModule_AddIntConstant(m, "ERROR_FAILED", PWALK_RECORD_FAILED) < 0 ||
        PyModule_AddIntConstant(m, "ERROR_VANISHED", PWALK_RECORD_VANISHED) < 0 ||
        PyModule_AddIntConstant(m, "ERROR_REPLACED", PWALK_RECORD_REPLACED) < 0 ||
        PyModule_AddIntConstant(m, "FAIL_SINK", PWALK_FAIL_SINK) < 0 ||
        PyModule_AddIntConstant(m, "FAIL_CONFIG", PWALK_FAIL_CONFIG) < 0 ||
        PyModule_AddIntConstant(m, "FAIL_CHECKPOINT", PWALK_FAIL_CHECKPOINT) < 0 ||
        PyModule_AddIntConstant(m, "FAIL_SUSPENDED", PWALK_FAIL_SUSPENDED) < 0 ||
        PyModule_AddIntConstant(m, "INCOMPLETE", PWALK_INCOMPLETE) < 0 ||
        PyModule_AddStringConstant(m, "LIBRARY_VERSION", pwalk_version()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
