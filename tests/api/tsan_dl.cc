// Linked into the tests that run two scans in one process.  Each scan
// dlopen()s and dlclose()s its own plugins, so two scans load and unload
// the same .so at once.  glibc's dynamic loader serialises that with its own
// lock, which ThreadSanitizer cannot see (ld.so is not instrumented), so the
// loader's calloc in one thread and its free in the other look like a race
// inside _dl_close_worker.  ThreadSanitizer asks every program for this
// function at start-up; outside a --config=tsan build nothing calls it.
// Only allocations made by ld.so itself are left unchecked: the plugins',
// the engine's and the test's memory still are.
extern "C" const char *__tsan_default_suppressions()
{
    return "called_from_lib:ld-linux-x86-64.so.2\n";
}
