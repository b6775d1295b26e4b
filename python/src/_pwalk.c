/*
 * _pwalk.c -- the C side of the pwalk Python package (CPython C API only).
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Two services:
 *
 *  run_pipeline()  one whole scan through engine/pipeline.c, the function
 *                  the pwalk-engine command line runs, so a report made from
 *                  Python is byte for byte the CLI's.  The scan runs on a
 *                  thread of its own with every signal blocked; this thread
 *                  waits with the GIL released and looks at Python's signal
 *                  flags every 50 ms, so Ctrl-C stops the engine (outputs
 *                  abandoned, like the CLI's exit 130) and then raises
 *                  KeyboardInterrupt here.  Error records arrive on engine
 *                  threads and are only copied into a C array there: no
 *                  engine thread ever touches a Python object.
 *
 *  Walker          the read-ahead listings behind pwalk.walk()
 *                  (plugins/walk-iterator/walkahead.c) turned into the lists
 *                  os.walk() yields.  The generator logic itself is Python
 *                  (pwalk/_walk.py), so it can follow os.walk() line by line.
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

#include "engine/config.h"
#include "engine/pipeline.h"
#include "engine/sinks.h"
#include "engine/threads.h"
#include "engine/walk.h"
#include "plugins/walk-iterator/walkahead.h"

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
    if (self->nopen == self->capopen) {
        size_t cap = self->capopen ? self->capopen * 2 : 64;
        wa_node **grown = realloc(self->open, cap * sizeof *grown);
        if (!grown) {
            Py_DECREF(enc);
            return PyErr_NoMemory();
        }
        self->open = grown;
        self->capopen = cap;
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

    PyObject *dirs = PyList_New((Py_ssize_t)L.ndirs);
    PyObject *files = PyList_New((Py_ssize_t)(L.count - L.ndirs));
    PyObject *into = bottomup ? PyList_New(0) : (Py_INCREF(Py_None), Py_None);
    char *joined = NULL;
    size_t joined_cap = 0;
    int sep = len > 0 && p[len - 1] != '/';
    int path_ascii = pw_is_ascii(p, len);
    if (!dirs || !files || !into)
        goto fail;
    const char *nm = L.names;
    Py_ssize_t di = 0, fi = 0;
    for (size_t i = 0; i < L.count; nm += L.lens[i] + 1, i++) {
        uint8_t fl = L.flags[i];
        PyObject *o = pw_name(nm, L.lens[i], as_str, fl & WA_ASCII);
        if (!o)
            goto fail;
        if (fl & WA_DIR)
            PyList_SET_ITEM(dirs, di++, o);
        else
            PyList_SET_ITEM(files, fi++, o);
        if (bottomup && (fl & WA_DIR) && (self->followlinks || !(fl & WA_LINK))) {
            size_t need = len + 1 + L.lens[i];
            if (need > joined_cap) {
                char *g = realloc(joined, need);
                if (!g) {
                    PyErr_NoMemory();
                    goto fail;
                }
                joined = g;
                joined_cap = need;
            }
            memcpy(joined, p, len);
            if (sep)
                joined[len] = '/';
            memcpy(joined + len + sep, nm, L.lens[i]);
            PyObject *jp = pw_name(joined, len + (size_t)sep + L.lens[i], as_str,
                                   path_ascii && (fl & WA_ASCII));
            if (!jp || PyList_Append(into, jp) != 0) {
                Py_XDECREF(jp);
                goto fail;
            }
            Py_DECREF(jp);
        }
    }
    free(joined);
    Py_DECREF(enc);
    wa_drop_listing(self->w, n);
    self->open[self->nopen++] = n;
    PyObject *res = Py_BuildValue("(iNNN)", 0, dirs, files, into);
    return res;
fail:
    free(joined);
    Py_DECREF(enc);
    Py_XDECREF(dirs);
    Py_XDECREF(files);
    Py_XDECREF(into);
    wa_release(self->w, n);
    return NULL;
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
    unsigned kind;              /* PWALK_ERROR_* */
} pw_err;

typedef struct pw_job {
    cfg_pipeline *p;
    pipeline_run_options o;
    pipeline_result r;
    pthread_mutex_t m;
    pthread_cond_t cv;
    int done;
    pthread_mutex_t elock;
    pw_err *errs;
    size_t nerrs, caperrs;
    uint64_t lost;              /* records not kept (out of memory) */
} pw_job;

/* The engine serialises nothing across pipelines (its stop flags are
 * global), so one scan at a time per process. */
static pthread_mutex_t pw_run_lock = PTHREAD_MUTEX_INITIALIZER;

/* Engine threads: copy the record, nothing else (no Python here). */
static void pw_on_error(void *ctx, const char *path, size_t len, int error_number,
                        const char *operation, uint32_t kind)
{
    pw_job *j = ctx;
    pthread_mutex_lock(&j->elock);
    if (j->nerrs == j->caperrs) {
        size_t cap = j->caperrs ? j->caperrs * 2 : 64;
        pw_err *g = realloc(j->errs, cap * sizeof *g);
        if (!g) {
            j->lost++;
            pthread_mutex_unlock(&j->elock);
            return;
        }
        j->errs = g;
        j->caperrs = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        j->lost++;
        pthread_mutex_unlock(&j->elock);
        return;
    }
    memcpy(copy, path, len);
    copy[len] = '\0';
    pw_err *e = &j->errs[j->nerrs++];
    e->path = copy;
    e->len = len;
    e->error_number = error_number;
    e->kind = kind;
    snprintf(e->operation, sizeof e->operation, "%s", operation ? operation : "");
    pthread_mutex_unlock(&j->elock);
}

static void *pw_job_main(void *arg)
{
    pw_job *j = arg;
    pipeline_run(j->p, &j->o, &j->r);
    pthread_mutex_lock(&j->m);
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

/* Take the one-scan-at-a-time lock, waiting with the GIL released and
 * responding to Ctrl-C. */
static int pw_lock_run(void)
{
    for (;;) {
        int rc;
        Py_BEGIN_ALLOW_THREADS
        struct timespec t;
        pw_deadline(&t);
        rc = pthread_mutex_timedlock(&pw_run_lock, &t);
        Py_END_ALLOW_THREADS
        if (rc == 0)
            return 0;
        if (PyErr_CheckSignals() < 0)
            return -1;
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

/* Append dirs to the pipeline's plugin_path (the package's own plugins). */
static int pw_add_plugin_dirs(cfg_pipeline *p, char **dirs, size_t n)
{
    if (!n)
        return 0;
    char **g = realloc(p->plugin_path, (p->plugin_path_count + n) * sizeof *g);
    if (!g)
        return -1;
    p->plugin_path = g;
    for (size_t i = 0; i < n; i++) {
        char *d = strdup(dirs[i]);
        if (!d)
            return -1;
        p->plugin_path[p->plugin_path_count++] = d;
    }
    return 0;
}

/* What the preparation found, for Python to turn into an exception. */
enum { PW_STAGE_OK = 0, PW_STAGE_CONFIG, PW_STAGE_ROOT, PW_STAGE_MEMORY };

static PyObject *pw_options_dict(const cfg_sink *s)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    for (size_t i = 0; i < s->option_count; i++) {
        const cfg_option *o = &s->options[i];
        PyObject *v;
        if (o->is_list) {
            v = PyList_New((Py_ssize_t)o->item_count);
            for (size_t k = 0; v && k < o->item_count; k++) {
                PyObject *it = PyBytes_FromString(o->items[k]);
                if (!it) {
                    Py_CLEAR(v);
                    break;
                }
                PyList_SET_ITEM(v, (Py_ssize_t)k, it);
            }
        } else {
            v = PyBytes_FromString(o->scalar ? o->scalar : "");
        }
        if (!v || PyDict_SetItemString(d, o->key, v) != 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *pw_result(const cfg_pipeline *p, pw_job *j, const char *summary)
{
    const pipeline_result *r = &j->r;
    PyObject *filtered = PyDict_New();
    if (!filtered)
        return NULL;
    for (int i = 1; i < FILTER_REASON_COUNT; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(r->stats.filtered[i]);
        if (!v || PyDict_SetItemString(filtered, filter_reason_name((enum filter_reason)i),
                                       v) != 0) {
            Py_XDECREF(v);
            Py_DECREF(filtered);
            return NULL;
        }
        Py_DECREF(v);
    }
    PyObject *errors = PyList_New((Py_ssize_t)j->nerrs);
    if (!errors) {
        Py_DECREF(filtered);
        return NULL;
    }
    for (size_t i = 0; i < j->nerrs; i++) {
        pw_err *e = &j->errs[i];
        PyObject *t = Py_BuildValue("(y#isI)", e->path, (Py_ssize_t)e->len, e->error_number,
                                    e->operation, e->kind);
        if (!t) {
            Py_DECREF(errors);
            Py_DECREF(filtered);
            return NULL;
        }
        PyList_SET_ITEM(errors, (Py_ssize_t)i, t);
    }
    PyObject *sinks = PyList_New((Py_ssize_t)p->sink_count);
    if (!sinks) {
        Py_DECREF(errors);
        Py_DECREF(filtered);
        return NULL;
    }
    for (size_t i = 0; i < p->sink_count; i++) {
        PyObject *opts = pw_options_dict(&p->sinks[i]);
        PyObject *t = opts ? Py_BuildValue("(ssKN)", p->sinks[i].name, p->sinks[i].plugin,
                                           (unsigned long long)(i < 64 ? r->sink_rows[i] : 0),
                                           opts)
                           : NULL;
        if (!t) {
            Py_DECREF(sinks);
            Py_DECREF(errors);
            Py_DECREF(filtered);
            return NULL;
        }
        PyList_SET_ITEM(sinks, (Py_ssize_t)i, t);
    }
    PyObject *errpath = p->scan.errors_path ? PyBytes_FromString(p->scan.errors_path)
                                            : (Py_INCREF(Py_None), Py_None);
    if (!errpath) {
        Py_DECREF(sinks);
        Py_DECREF(errors);
        Py_DECREF(filtered);
        return NULL;
    }
    return Py_BuildValue(
        "{sisisNsNsKsKsKsKsKsKsKsKsdsNsNsNsKsN}", "stage", PW_STAGE_OK, "status", r->status,
        "message", pw_message(r->message), "summary", pw_message(summary ? summary : ""),
        "entries", (unsigned long long)r->stats.entries, "rows",
        (unsigned long long)r->stats.rows, "dirs", (unsigned long long)r->stats.dirs,
        "error_count", (unsigned long long)r->errors, "vanished_count",
        (unsigned long long)r->vanished, "walk_errors",
        (unsigned long long)r->stats.errors, "stat_errors",
        (unsigned long long)r->stats.stat_errors, "read_errors",
        (unsigned long long)r->stats.read_errors, "seconds", r->stats.seconds, "filtered",
        filtered, "errors", errors, "sinks", sinks, "errors_lost",
        (unsigned long long)j->lost, "errors_path", errpath);
}

/* run_pipeline(yaml=None, file=None, name=None, roots=None, sets=None,
 *              threads=0, plugin_dirs=None) -> dict
 *
 * yaml: the pipeline as YAML text (bytes); file: a pipeline file (bytes
 * path); neither: the built-in defaults.  roots replace scan.roots; sets
 * are "SINK.KEY=VALUE" / "scan.KEY=VALUE" assignments (the CLI's --set);
 * plugin_dirs are appended to plugin_path.
 *
 * The dict's "stage" says how far it got: CONFIG (message: the engine's,
 * naming file:line:column and key), ROOT (errno, root), or OK with the
 * scan's status and counters.  KeyboardInterrupt (or whatever a signal
 * handler raised) propagates after the engine stopped. */
static PyObject *pw_run_pipeline(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kwlist[] = {"yaml", "file", "name", "roots", "sets", "threads", "plugin_dirs",
                             NULL};
    PyObject *yaml = Py_None, *file = Py_None, *roots_o = Py_None, *sets_o = Py_None,
             *dirs_o = Py_None;
    const char *name = NULL;
    int threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOzOOiO", kwlist, &yaml, &file, &name,
                                     &roots_o, &sets_o, &threads, &dirs_o))
        return NULL;
    if ((yaml != Py_None && !PyBytes_Check(yaml)) || (file != Py_None && !PyBytes_Check(file))) {
        PyErr_SetString(PyExc_TypeError, "yaml and file must be bytes");
        return NULL;
    }
    if (threads < 0 || threads > THREADS_MAX) {
        PyErr_Format(PyExc_ValueError, "threads must be from 1 to %d", THREADS_MAX);
        return NULL;
    }
    char **roots = NULL, **sets = NULL, **dirs = NULL;
    size_t nroots = 0, nsets = 0, ndirs = 0;
    if (pw_strv_from(roots_o, &roots, &nroots, "roots") ||
        pw_strv_from(sets_o, &sets, &nsets, "sets") ||
        pw_strv_from(dirs_o, &dirs, &ndirs, "plugin_dirs")) {
        pw_strv_free(roots, nroots);
        pw_strv_free(sets, nsets);
        return NULL;
    }
    char *text = NULL, *fpath = NULL;
    size_t text_len = 0;
    if (yaml != Py_None) {
        text_len = (size_t)PyBytes_GET_SIZE(yaml);
        text = malloc(text_len + 1);
        if (text)
            memcpy(text, PyBytes_AS_STRING(yaml), text_len + 1);
    }
    if (file != Py_None)
        fpath = strdup(PyBytes_AS_STRING(file));
    char *src_name = strdup(name ? name : "<python>");

    if (pw_lock_run() != 0) {
        pw_strv_free(roots, nroots);
        pw_strv_free(sets, nsets);
        pw_strv_free(dirs, ndirs);
        free(text);
        free(fpath);
        free(src_name);
        return NULL;
    }

    /* Everything from here to the end of the scan runs without the GIL. */
    cfg_pipeline p;
    pw_job job;
    int job_ready = 0;
    char err[2048] = "";
    int stage = PW_STAGE_OK, root_errno = 0;
    const char *bad_root = NULL;
    int started = 0;
    char *summary = NULL;
    size_t summary_len = 0;
    FILE *summary_f = NULL;
    int interrupted = 0;
    PyThreadState *ts = PyEval_SaveThread();

    memset(&job, 0, sizeof job);
    int rc;
    if ((yaml != Py_None && !text) || (file != Py_None && !fpath) || !src_name) {
        cfg_init_defaults(&p);
        stage = PW_STAGE_MEMORY;
        goto prepared;
    }
    if (text)
        rc = cfg_load_string(text, text_len, src_name, &p, err, sizeof err);
    else if (fpath)
        rc = cfg_load_file(fpath, &p, err, sizeof err);
    else {
        cfg_init_defaults(&p);
        rc = p.source ? 0 : -1;
        if (rc)
            snprintf(err, sizeof err, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < nsets; i++)
        rc = cfg_apply_set(&p, sets[i], err, sizeof err);
    if (rc == 0 && nroots && cfg_set_roots(&p, roots, nroots) != 0) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    if (rc == 0 && threads > 0)
        p.scan.threads = threads;
    if (rc == 0 && pw_add_plugin_dirs(&p, dirs, ndirs) != 0) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    if (rc == 0 && p.scan.root_count == 0) {
        snprintf(err, sizeof err, "%s: no paths to scan: give roots or scan.roots", p.source);
        rc = -1;
    }
    if (rc != 0) {
        stage = PW_STAGE_CONFIG;
        goto prepared;
    }
    /* the CLI's order: roots first (FileNotFoundError), then the sinks */
    for (size_t i = 0; i < p.scan.root_count; i++) {
        struct stat st;
        if (lstat(p.scan.roots[i], &st) != 0) {
            root_errno = errno;
            bad_root = p.scan.roots[i];
            stage = PW_STAGE_ROOT;
            goto prepared;
        }
    }
    {
        /* load and check every plugin and option now, so a bad pipeline
         * is told apart (ValueError) from a sink failing while it runs */
        sink_set *check = NULL;
        if (sinks_load(&p, &check, err, sizeof err) != 0)
            stage = PW_STAGE_CONFIG;
        sinks_free(check);
        if (stage != PW_STAGE_OK)
            goto prepared;
    }

    summary_f = open_memstream(&summary, &summary_len);
    job.p = &p;
    /* not quiet: Summary.summary holds the summary after every run, not
     * only after a failed one (it goes to summary_f, never to stderr) */
    job.o.quiet = 0;
    job.o.progress = 0;
    job.o.summary = summary_f;
    job.o.on_error = pw_on_error;
    job.o.on_error_ctx = &job;
    pthread_mutex_init(&job.m, NULL);
    pthread_cond_init(&job.cv, NULL);
    pthread_mutex_init(&job.elock, NULL);
    job_ready = 1;
    {
        /* The scan's threads block every signal, so Ctrl-C reaches the
         * Python thread (which stops the scan) and never interrupts an
         * engine system call. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_t th;
        started = pthread_create(&th, NULL, pw_job_main, &job) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!started) {
            pw_job_main(&job); /* no thread: run here, without Ctrl-C */
        } else {
            pthread_mutex_lock(&job.m);
            while (!job.done) {
                struct timespec t;
                pw_deadline(&t);
                pthread_cond_timedwait(&job.cv, &job.m, &t);
                if (job.done)
                    break;
                pthread_mutex_unlock(&job.m);
                PyEval_RestoreThread(ts);
                if (!interrupted && PyErr_CheckSignals() < 0)
                    interrupted = 1;
                ts = PyEval_SaveThread();
                /* repeated: the request must outlive pipeline_run()'s
                 * clearing of it on entry */
                if (interrupted)
                    pipeline_signal(SIGINT);
                pthread_mutex_lock(&job.m);
            }
            pthread_mutex_unlock(&job.m);
            pthread_join(th, NULL);
        }
    }
    if (summary_f)
        fclose(summary_f);

prepared:
    pthread_mutex_unlock(&pw_run_lock);
    PyEval_RestoreThread(ts);

    PyObject *res = NULL;
    if (interrupted) {
        /* the exception a signal handler raised is already set */
    } else if (stage == PW_STAGE_MEMORY) {
        PyErr_NoMemory();
    } else if (stage == PW_STAGE_CONFIG) {
        res = Py_BuildValue("{sisN}", "stage", stage, "message", pw_message(err));
    } else if (stage == PW_STAGE_ROOT) {
        res = Py_BuildValue("{sisisy}", "stage", stage, "errno", root_errno, "root", bad_root);
    } else {
        res = pw_result(&p, &job, summary);
    }
    if (job_ready) {
        pthread_mutex_destroy(&job.m);
        pthread_cond_destroy(&job.cv);
        pthread_mutex_destroy(&job.elock);
    }
    for (size_t i = 0; i < job.nerrs; i++)
        free(job.errs[i].path);
    free(job.errs);
    free(summary);
    cfg_free(&p);
    pw_strv_free(roots, nroots);
    pw_strv_free(sets, nsets);
    pw_strv_free(dirs, ndirs);
    free(text);
    free(fpath);
    free(src_name);
    return res;
}

/* ==== small queries =========================================================== */

static PyObject *pw_auto_threads(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    const char *from = "";
    char err[512];
    int n = threads_auto(&from, err, sizeof err);
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return Py_BuildValue("(is)", n, from);
}

/* The engine's default snapshot directory names (scan.snapshot_names). */
static PyObject *pw_snapshot_names(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    cfg_pipeline p;
    cfg_init_defaults(&p);
    PyObject *l = PyList_New(0);
    for (size_t i = 0; l && i < p.scan.snapshot_name_count; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(p.scan.snapshot_names[i]);
        if (!s || PyList_Append(l, s) != 0) {
            Py_XDECREF(s);
            Py_CLEAR(l);
        }
        Py_XDECREF(s);
    }
    cfg_free(&p);
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
    Py_INCREF(&WalkerType);
    if (PyModule_AddObject(m, "Walker", (PyObject *)&WalkerType) < 0 ||
        PyModule_AddIntConstant(m, "STAGE_OK", PW_STAGE_OK) < 0 ||
        PyModule_AddIntConstant(m, "STAGE_CONFIG", PW_STAGE_CONFIG) < 0 ||
        PyModule_AddIntConstant(m, "STAGE_ROOT", PW_STAGE_ROOT) < 0 ||
        PyModule_AddIntConstant(m, "ABI_MAJOR", PWALK_ABI_MAJOR) < 0 ||
        PyModule_AddIntConstant(m, "ABI_MINOR", PWALK_ABI_MINOR) < 0 ||
        PyModule_AddIntConstant(m, "ERROR_FAILED", PWALK_ERROR_FAILED) < 0 ||
        PyModule_AddIntConstant(m, "ERROR_REPLACED", PWALK_ERROR_REPLACED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
