/*
 * scan_iter.c -- the consumer side of pwalk.scan(): the walk-iterator
 * sink's queue (include/pwalk/walk_iterator.h) read into pwalk.Entry
 * objects.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * The scan itself runs through run_pipeline() (_pwalk.c) on a thread the
 * Python side starts, with this queue's consumer attached to its
 * walk-iterator sink (run_pipeline's `attach`).  The Python thread that
 * iterates waits for entries with the GIL released, 50 ms at a time, so
 * Ctrl-C reaches it; it converts a whole batch at a time with the GIL.
 *
 * Two lifetimes: the EntryQueue object belongs to the Python code that
 * iterates; the attached consumer struct (sq_shared) must live as long as
 * the scan can call ready() into it, which may be after the iterator was
 * dropped.  So sq_shared is reference counted: one reference for the
 * object, one for each capsule handed to run_pipeline().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structseq.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pwalk/walk_iterator.h"
#include "scan_iter.h"

#define SQ_POLL_MS 50
#define SQ_CAPSULE "pwalk.iter_consumer"

/* What the scan's thread and the iterating thread share. */
typedef struct sq_shared {
    pwalk_iter_consumer consumer;   /* attached to the sink              */
    pthread_mutex_t m;
    pthread_cond_t cv;
    atomic_int refs;
    pwalk_iter *it;                 /* from ready(); NULL before         */
    const pwalk_iter_ops *ops;
    int closed;                     /* the consumer left (done() called,
                                       or due in ready())                */
    int out;                        /* returned from its last call into
                                       the plugin (END or done()): the
                                       plugin's release() waits for it   */
    int over;                       /* the scan let go of the consumer   */
} sq_shared;

static void sq_unref(sq_shared *sh)
{
    if (atomic_fetch_sub(&sh->refs, 1) != 1)
        return;
    pthread_cond_destroy(&sh->cv);
    pthread_mutex_destroy(&sh->m);
    free(sh);
}

/* The consumer made its last call into the plugin and returned from it. */
static void sq_out(sq_shared *sh)
{
    pthread_mutex_lock(&sh->m);
    sh->out = 1;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->m);
}

/* The plugin's create(), on the scan's thread: no Python here. */
static void sq_ready(void *ctx, pwalk_iter *it, const pwalk_iter_ops *ops)
{
    sq_shared *sh = ctx;
    pthread_mutex_lock(&sh->m);
    int closed = sh->closed;
    if (!closed) {
        sh->it = it;
        sh->ops = ops;
        pthread_cond_broadcast(&sh->cv);
    }
    pthread_mutex_unlock(&sh->m);
    if (closed) { /* the iterator was closed before the scan got here */
        ops->done(it);
        sq_out(sh);
    }
}

/* The plugin's destroy(), on the scan's thread: it frees the queue (and
 * may be unloaded) when this returns, so wait until the iterating thread
 * is out of the plugin's code for good. */
static void sq_release(void *ctx)
{
    sq_shared *sh = ctx;
    pthread_mutex_lock(&sh->m);
    while (!sh->out)
        pthread_cond_wait(&sh->cv, &sh->m);
    pthread_mutex_unlock(&sh->m);
}

/* ---- pwalk.Entry --------------------------------------------------------------- */

static PyStructSequence_Field sq_entry_fields[] = {
    {"inode", "st_ino"},
    {"parent_inode", "st_ino of the containing directory (0 for a root)"},
    {"depth", "a root -1, its entries 0, one level further 1, ..."},
    {"path", "the full path: bytes when the scan's roots were bytes, else str "
             "(os.fsdecode's surrogateescape)"},
    {"extension", "the report's fileExtension (non-directories: after the last '.')"},
    {"uid", "st_uid"},
    {"gid", "st_gid"},
    {"size", "st_size"},
    {"dev", "st_dev"},
    {"blocks", "st_blocks (512-byte units)"},
    {"nlink", "st_nlink"},
    {"mode", "st_mode, type bits included"},
    {"atime", "st_atime, integer seconds"},
    {"mtime", "st_mtime, integer seconds"},
    {"ctime", "st_ctime, integer seconds"},
    {"fcount", "directories: entries read from it; others and unreadable directories -1"},
    {"dirsum", "directories: sum of st_size of the entries directly in it; others 0"},
    {"atime_ns", "st_atime_ns"},
    {"mtime_ns", "st_mtime_ns"},
    {"ctime_ns", "st_ctime_ns"},
    {NULL, NULL},
};

static PyStructSequence_Desc sq_entry_desc = {
    "pwalk.Entry",
    "One entry of pwalk.scan(): the report's columns in its order (a tuple of "
    "17), plus atime_ns, mtime_ns and ctime_ns by name, like os.stat_result.",
    sq_entry_fields,
    17,
};

static PyTypeObject *sq_entry_type;

/* A path as the caller gave its roots: bytes, or str like os.fsdecode()
 * (with a shortcut for 7-bit names, the common case: the same result). */
static PyObject *sq_text(const char *p, size_t n, int like_str)
{
    if (!like_str)
        return PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
    size_t i = 0;
    while (i < n && (unsigned char)p[i] < 0x80)
        i++;
    if (i < n)
        return PyUnicode_DecodeFSDefaultAndSize(p, (Py_ssize_t)n);
    PyObject *s = PyUnicode_New((Py_ssize_t)n, 127);
    if (s)
        memcpy(PyUnicode_1BYTE_DATA(s), p, n);
    return s;
}

static PyObject *sq_ns(int64_t sec, uint32_t nsec)
{
    return PyLong_FromLongLong((long long)sec * 1000000000LL + (long long)nsec);
}

static PyObject *sq_entry(const pwalk_iter_entry *e, int like_str)
{
    PyObject *o = PyStructSequence_New(sq_entry_type);
    if (!o)
        return NULL;
    PyObject *v[20] = {
        PyLong_FromUnsignedLongLong(e->ino),
        PyLong_FromUnsignedLongLong(e->parent_ino),
        PyLong_FromLong(e->depth),
        sq_text(e->path, e->path_len, like_str),
        sq_text(e->path + e->ext_offset, e->ext_len, like_str),
        PyLong_FromUnsignedLong(e->uid),
        PyLong_FromUnsignedLong(e->gid),
        PyLong_FromLongLong(e->size),
        PyLong_FromUnsignedLongLong(e->dev),
        PyLong_FromLongLong(e->blocks),
        PyLong_FromUnsignedLongLong(e->nlink),
        PyLong_FromUnsignedLong(e->mode),
        PyLong_FromLongLong(e->atime_sec),
        PyLong_FromLongLong(e->mtime_sec),
        PyLong_FromLongLong(e->ctime_sec),
        PyLong_FromLongLong(e->fcount),
        PyLong_FromLongLong(e->dirsum),
        sq_ns(e->atime_sec, e->atime_nsec),
        sq_ns(e->mtime_sec, e->mtime_nsec),
        sq_ns(e->ctime_sec, e->ctime_nsec),
    };
    int ok = 1;
    for (int i = 0; i < 20; i++) {
        if (!v[i])
            ok = 0;
        PyStructSequence_SET_ITEM(o, i, v[i]);
    }
    if (!ok) {
        Py_DECREF(o); /* frees the items that were made */
        return NULL;
    }
    return o;
}

/* ---- EntryQueue ---------------------------------------------------------------- */

enum { SQ_RUNNING = 0, SQ_ENDED, SQ_CLOSED };

typedef struct {
    PyObject_HEAD
    sq_shared *sh;
    int like_str;
    int state;                      /* SQ_*                              */
    int busy;                       /* a thread waits in next()          */
    int close_requested;            /* close() while busy                */
    const pwalk_iter_entry *batch;  /* valid until the next next()/done() */
    size_t n, pos;
    pwalk_iter_stats last;          /* the counters as last seen         */
} EQObject;

static int EQ_init(EQObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"like_str", NULL};
    int like_str = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &like_str))
        return -1;
    if (self->sh) {
        PyErr_SetString(PyExc_RuntimeError, "EntryQueue is initialised once");
        return -1;
    }
    sq_shared *sh = calloc(1, sizeof *sh);
    if (!sh) {
        PyErr_NoMemory();
        return -1;
    }
    sh->consumer.struct_size = sizeof sh->consumer;
    sh->consumer.version = PWALK_ITER_VERSION;
    sh->consumer.ctx = sh;
    sh->consumer.ready = sq_ready;
    sh->consumer.release = sq_release;
    pthread_mutex_init(&sh->m, NULL);
    pthread_cond_init(&sh->cv, NULL);
    atomic_init(&sh->refs, 1);
    self->sh = sh;
    self->like_str = like_str;
    return 0;
}

/* The consumer leaves: done() now if the scan attached, else in ready(). */
static void eq_leave(EQObject *self)
{
    sq_shared *sh = self->sh;
    if (!sh || self->state != SQ_RUNNING)
        return;
    self->state = SQ_CLOSED;
    self->batch = NULL;
    self->n = self->pos = 0;
    pthread_mutex_lock(&sh->m);
    sh->closed = 1;
    pwalk_iter *it = sh->it;
    const pwalk_iter_ops *ops = sh->ops;
    pthread_mutex_unlock(&sh->m);
    if (it) {
        ops->stats(it, &self->last);
        ops->done(it);
        sq_out(sh);
    }
}

static void EQ_dealloc(EQObject *self)
{
    /* busy is impossible here: the waiting thread holds a reference */
    eq_leave(self);
    if (self->sh)
        sq_unref(self->sh);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* One wait of at most SQ_POLL_MS, without the GIL. */
static int eq_wait(EQObject *self, const pwalk_iter_entry **batch, size_t *n)
{
    sq_shared *sh = self->sh;
    pthread_mutex_lock(&sh->m);
    if (!sh->it && !sh->over) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += SQ_POLL_MS * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&sh->cv, &sh->m, &t);
    }
    pwalk_iter *it = sh->it;
    const pwalk_iter_ops *ops = sh->ops;
    int over = sh->over;
    pthread_mutex_unlock(&sh->m);
    if (!it) /* the scan ended before the sink started: nothing will come */
        return over ? PWALK_ITER_END : PWALK_ITER_TIMEOUT;
    ops->stats(it, &self->last);
    int rc = ops->next(it, batch, n, SQ_POLL_MS);
    if (rc == PWALK_ITER_END)
        sq_out(sh);
    return rc;
}

/* The end: the Python side's _end() joins the scan's thread and raises
 * what it raised; otherwise StopIteration. */
static PyObject *eq_end(EQObject *self)
{
    self->state = SQ_ENDED;
    self->batch = NULL;
    self->n = self->pos = 0;
    if (PyObject_HasAttrString((PyObject *)self, "_end")) {
        PyObject *r = PyObject_CallMethod((PyObject *)self, "_end", NULL);
        Py_XDECREF(r);
    }
    return NULL;
}

/* Ctrl-C while waiting: leave (the scan stops) through the Python side's
 * close(), which also joins the scan's thread, and re-raise. */
static PyObject *eq_interrupted(EQObject *self)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyObject *r = PyObject_CallMethod((PyObject *)self, "close", NULL);
    Py_XDECREF(r);
    if (!r)
        PyErr_Clear();
    eq_leave(self);
    PyErr_Restore(t, v, tb);
    return NULL;
}

static PyObject *EQ_iternext(EQObject *self)
{
    if (!self->sh) {
        PyErr_SetString(PyExc_RuntimeError, "EntryQueue not initialised");
        return NULL;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "pwalk.scan() iterator already in use by another "
                                            "thread");
        return NULL;
    }
    for (;;) {
        if (self->pos < self->n)
            return sq_entry(&self->batch[self->pos++], self->like_str);
        if (self->state != SQ_RUNNING)
            return NULL;
        const pwalk_iter_entry *batch = NULL;
        size_t n = 0;
        int rc;
        self->busy = 1;
        Py_BEGIN_ALLOW_THREADS
        rc = eq_wait(self, &batch, &n);
        Py_END_ALLOW_THREADS
        self->busy = 0;
        if (rc == PWALK_ITER_END)
            return eq_end(self);
        if (self->close_requested) {
            eq_leave(self);
            return NULL;
        }
        if (rc == PWALK_ITER_ENTRIES) {
            self->batch = batch;
            self->n = n;
            self->pos = 0;
        } else if (PyErr_CheckSignals() < 0) {
            return eq_interrupted(self);
        }
    }
}

static PyObject *EQ_close(EQObject *self, PyObject *unused)
{
    (void)unused;
    if (self->busy)
        self->close_requested = 1; /* that thread leaves within SQ_POLL_MS */
    else
        eq_leave(self);
    Py_RETURN_NONE;
}

/* A capsule of the consumer, for run_pipeline(attach=...).  It holds a
 * reference to the shared part, so the scan may call ready() after this
 * object is gone; releasing it (run_pipeline() returned, the caller let
 * go) tells a consumer still waiting for the sink to start that it never
 * will. */
static void eq_capsule_free(PyObject *cap)
{
    sq_shared *sh = PyCapsule_GetContext(cap);
    if (!sh)
        return;
    pthread_mutex_lock(&sh->m);
    sh->over = 1;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->m);
    sq_unref(sh);
}

static PyObject *EQ_consumer(EQObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->sh) {
        PyErr_SetString(PyExc_RuntimeError, "EntryQueue not initialised");
        return NULL;
    }
    PyObject *cap = PyCapsule_New(&self->sh->consumer, SQ_CAPSULE, eq_capsule_free);
    if (!cap)
        return NULL;
    atomic_fetch_add(&self->sh->refs, 1);
    PyCapsule_SetContext(cap, self->sh);
    return cap;
}

static PyObject *EQ_stats(EQObject *self, PyObject *unused)
{
    (void)unused;
    const pwalk_iter_stats *s = &self->last;
    return Py_BuildValue("{sKsKsKsKsKsKsK}", "entries", (unsigned long long)s->entries,
                         "taken", (unsigned long long)s->taken, "dropped",
                         (unsigned long long)s->dropped, "waits", (unsigned long long)s->waits,
                         "capacity", (unsigned long long)s->capacity, "high_water",
                         (unsigned long long)s->high_water, "high_water_bytes",
                         (unsigned long long)s->high_water_bytes);
}

static PyMethodDef EQ_methods[] = {
    {"close", (PyCFunction)EQ_close, METH_NOARGS,
     "close(): leave early; the scan stops (its thread is joined by the caller)"},
    {"consumer", (PyCFunction)EQ_consumer, METH_NOARGS,
     "consumer() -> capsule to attach to a walk-iterator sink (run_pipeline(attach=))"},
    {"stats", (PyCFunction)EQ_stats, METH_NOARGS,
     "the queue's counters as last seen: entries, taken, dropped, waits, capacity, "
     "high_water, high_water_bytes"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EQType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pwalk._pwalk.EntryQueue",
    .tp_basicsize = sizeof(EQObject),
    .tp_dealloc = (destructor)EQ_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The entries of a walk-iterator sink, as pwalk.Entry objects (see pwalk.scan)",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)EQ_iternext,
    .tp_methods = EQ_methods,
    .tp_init = (initproc)EQ_init,
    .tp_new = PyType_GenericNew,
};

int scan_iter_add_types(PyObject *module)
{
    sq_entry_type = PyStructSequence_NewType(&sq_entry_desc);
    if (!sq_entry_type || PyType_Ready(&EQType) < 0)
        return -1;
    Py_INCREF(sq_entry_type);
    if (PyModule_AddObject(module, "Entry", (PyObject *)sq_entry_type) < 0) {
        Py_DECREF(sq_entry_type);
        return -1;
    }
    Py_INCREF(&EQType);
    if (PyModule_AddObject(module, "EntryQueue", (PyObject *)&EQType) < 0) {
        Py_DECREF(&EQType);
        return -1;
    }
    return PyModule_AddStringConstant(module, "ITER_CAPSULE", SQ_CAPSULE);
}

void *scan_iter_consumer_of(PyObject *capsule)
{
    return PyCapsule_GetPointer(capsule, SQ_CAPSULE);
}
