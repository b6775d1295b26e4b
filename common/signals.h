/*
 * signals.h -- one handler for several of a driver's signals (pwalk-engine,
 * pwalk-diff, pwalk-mpi: stop, abandon, suspend).  No SA_RESTART: a
 * blocking call the signal interrupts returns EINTR, so the driver sees
 * the request at once; no other signal is blocked while the handler runs
 * (each only sets a flag or calls pwalk_scan_stop()/_suspend(), which are
 * async-signal-safe).
 */
#ifndef PWALK_COMMON_SIGNALS_H
#define PWALK_COMMON_SIGNALS_H

#include <signal.h>
#include <stddef.h>
#include <string.h>

static inline void signals_handle(void (*handler)(int), const int *sigs, size_t count)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < count; i++)
        sigaction(sigs[i], &sa, NULL);
}

#endif
