/*
 * scan_iter.h -- pwalk.scan()'s consumer of the walk-iterator sink
 * (scan_iter.c), for the module's init and run_pipeline(attach=...).
 *
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef PWALK_PYTHON_SCAN_ITER_H
#define PWALK_PYTHON_SCAN_ITER_H

#include <Python.h>

/* Add Entry, EntryQueue and ITER_CAPSULE to the module.  0, or -1 with an
 * exception. */
int scan_iter_add_types(PyObject *module);

/* The pwalk_iter_consumer in a capsule from EntryQueue.consumer(), to
 * attach to a walk-iterator sink; NULL with an exception for anything
 * else.  The capsule must outlive the scan. */
void *scan_iter_consumer_of(PyObject *capsule);

#endif
