// harness.h -- the one test harness of pwalk's C++ tests (BUILD target
// //tests/harness): run the engine (process.h), handle files and scratch
// trees (files.h), read its outputs back (csv.h), model a tree as the
// report must show it (model.h).  The fake plugin host is
// //tests/harness:fakehost (fakehost.h).
#ifndef PWALK_TESTS_HARNESS_HARNESS_H
#define PWALK_TESTS_HARNESS_HARNESS_H

#include "tests/harness/csv.h"
#include "tests/harness/files.h"
#include "tests/harness/model.h"
#include "tests/harness/process.h"

#endif
