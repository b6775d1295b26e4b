"""pwalk.walk() against os.walk() on a tree (warm cache): median seconds of
N runs each, interleaved, and the ratio.  Both results are also compared.

    python3 python/tools/bench_walk.py /var/tmp/pwalk-bench/tree1m [runs] [threads...]
"""

import os
import statistics
import sys
import time

import pwalk


def consume(gen):
    n = 0
    for _, dirnames, filenames in gen:
        n += len(dirnames) + len(filenames)
    return n


def main():
    top = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    threads = [None if t == "auto" else int(t) for t in sys.argv[3:]] or [None]
    same = list(os.walk(top)) == list(pwalk.walk(top, ignore_snapshots=False))
    consume(os.walk(top))  # warm the cache
    times = {"os.walk": []}
    for t in threads:
        times[f"pwalk.walk(max_threads={t})"] = []
    count = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        count = consume(os.walk(top))
        times["os.walk"].append(time.perf_counter() - t0)
        for t in threads:
            t0 = time.perf_counter()
            consume(pwalk.walk(top, max_threads=t, ignore_snapshots=False))
            times[f"pwalk.walk(max_threads={t})"].append(time.perf_counter() - t0)
    base = statistics.median(times["os.walk"])
    print(f"{top}: {count} entries, {runs} runs, identical results: {same}")
    for k, v in times.items():
        m = statistics.median(v)
        print(f"  {k:28s} median {m:7.3f} s  {count / m / 1e6:5.2f} M entries/s  "
              f"{base / m:5.2f}x os.walk")


if __name__ == "__main__":
    main()
