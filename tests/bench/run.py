#!/usr/bin/env python3
"""The pwalk benchmark: build the trees once, run every case side by side.

    bazel build //:pwalk-engine //tests/bench:all
    python3 tests/bench/run.py [--quick] [--repeat N] [--cold] [--dir /var/tmp/pwalk-bench]

Every case runs once to warm the cache, then --repeat times (default 5);
the median is reported with the rate and the ratio to the ceiling measured
in the same run (these machines are shared and noisy: ratios, not absolute
numbers, are what compare).  Peak RSS comes from wait4().  Nothing here is a
pass/fail test.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PWALK_BIN", os.path.join(REPO, "bazel-bin"))
ENGINE = os.path.join(BIN, "pwalk-engine")
GENTREE = os.path.join(BIN, "tests", "bench", "gentree")
CEILING = os.path.join(BIN, "tests", "bench", "ceiling")


def run_timed(argv, stdout=subprocess.DEVNULL, env=None):
    """Run argv; return (seconds, peak RSS in KiB).

    RSS comes from GNU time (%M): wait4() on a child forked from Python
    would report the Python image it started from."""
    with tempfile.NamedTemporaryFile("r") as rss:
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", rss.name] + argv
        t0 = time.perf_counter()
        proc = subprocess.run(wrapped, stdout=stdout, stderr=subprocess.PIPE, env=env)
        seconds = time.perf_counter() - t0
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{argv[0]} exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace').strip()[:400]}")
        text = rss.read().strip().splitlines()
    return seconds, int(text[-1]) if text and text[-1].isdigit() else 0


def count_entries(tree):
    n = 1
    for _, dirs, files in os.walk(tree):
        n += len(dirs) + len(files)
    return n


def pipeline(tmp, plugin, path, threads):
    cfg = os.path.join(tmp, f"{plugin}.yaml")
    with open(cfg, "w") as f:
        f.write(
            "version: 1\n"
            f"scan: {{threads: {threads}, skip_snapshots: true}}\n"
            "sinks:\n"
            f"  - name: out\n    plugin: {plugin}\n"
            f"    options: {{path: '{path}', header: true}}\n"
        )
    return cfg


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="/var/tmp/pwalk-bench")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="100k-entry tree only (smoke run)")
    ap.add_argument("--cold", action="store_true", help="also cold-cache cases (root: drops caches)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    for exe in (ENGINE, GENTREE, CEILING):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} missing: run `bazel build //:pwalk-engine //tests/bench:all` first")
    os.makedirs(args.dir, exist_ok=True)
    trees = {"100k": ("tree100k", ["100000"]), "1m": ("tree1m", ["1000000"]),
             "huge": ("huge300k", ["300010", "--huge", "300000"])}
    if args.quick:
        trees = {"100k": trees["100k"]}
    paths = {}
    for key, (name, gen_args) in trees.items():
        p = os.path.join(args.dir, name)
        if not os.path.isdir(p):
            print(f"building {p} ...", flush=True)
            subprocess.run([GENTREE, p] + gen_args, check=True, stdout=subprocess.DEVNULL)
        paths[key] = p

    tmp = tempfile.mkdtemp(prefix="pwalk-bench-", dir=args.dir)
    out = lambda n: os.path.join(tmp, n)
    t = args.threads
    main_tree = paths.get("1m", paths["100k"])
    entries = {k: count_entries(p) for k, p in paths.items()}
    E = lambda argv: argv

    cases = []  # (label, tree key, argv, baseline label or None)
    for key in paths:
        if key == "huge" and "1m" in paths:
            pass
        cases.append((f"ceiling ({key}, {t} threads)", key, [CEILING, str(t), paths[key], out("ceil.txt")], None))
    tk = "1m" if "1m" in paths else "100k"
    ceil = f"ceiling ({tk}, {t} threads)"
    for plugin, fname in (("csv", "s.csv"), ("csv-zstd", "s.csv.zst"), ("csv-lz4", "s.csv.lz4"),
                          ("csv-gzip", "s.csv.gz")):
        cfg = pipeline(tmp, plugin, out(fname), t)
        cases.append((f"pwalk {plugin} ({tk})", tk, [ENGINE, "-q", "-c", cfg, main_tree], ceil))
    cfg1 = pipeline(tmp, "csv", out("one.csv"), 1)
    cases.append((f"pwalk csv ({tk}, 1 thread)", tk, [ENGINE, "-q", "-c", cfg1, main_tree], ceil))
    cases.append((f"ceiling ({tk}, 1 thread)", tk, [CEILING, "1", main_tree, out("ceil1.txt")], ceil))
    if "huge" in paths:
        cfg = pipeline(tmp, "csv", out("huge.csv"), t)
        cases.append(("pwalk csv (huge dir 300k)", "huge", [ENGINE, "-q", "-c", cfg, paths["huge"]],
                      f"ceiling (huge, {t} threads)"))
    if "100k" in paths and tk != "100k":
        cfg = pipeline(tmp, "csv", out("small.csv"), t)
        cases.append(("pwalk csv (100k)", "100k", [ENGINE, "-q", "-c", cfg, paths["100k"]],
                      f"ceiling (100k, {t} threads)"))
    find_fmt = "%i,%s,%m,%T@,%U,%G,%n,%b,%p\n"
    cases.append((f"find -printf ({tk})", tk, ["find", main_tree, "-printf", find_fmt], ceil))
    cases.append((f"du -s ({tk})", tk, ["du", "-s", main_tree], ceil))

    results = {}
    print(f"{'case':42} {'median s':>9} {'rows/s':>10} {'x ceiling':>10} {'peak RSS':>10}")
    for label, key, argv, base in cases:
        run_timed(argv)  # warm-up
        times, rss = [], 0
        for _ in range(args.repeat):
            s, r = run_timed(argv)
            times.append(s)
            rss = max(rss, r)
        med = statistics.median(times)
        rate = entries[key] / med
        results[label] = (med, rate, rss)
        ratio = f"{rate / results[base][1]:.2f}" if base in results else "1.00" if base is None else "-"
        print(f"{label:42} {med:9.3f} {rate / 1e6:9.3f}M {ratio:>10} {rss / 1024:8.1f}MiB", flush=True)

    if args.cold and os.geteuid() == 0:
        print("\ncold cache (caches dropped before every run):")
        cold = []
        for threads in (2, 4, 8, 16):
            cfg = pipeline(tmp, "csv", out(f"cold{threads}.csv"), threads)
            cold.append((f"pwalk csv cold, {threads} threads", [ENGINE, "-q", "-c", cfg, main_tree]))
        cold.append(("find -printf cold", ["find", main_tree, "-printf", find_fmt]))
        base = None
        for label, argv in cold:
            times = []
            for _ in range(max(1, args.repeat // 2)):
                drop_caches()
                times.append(run_timed(argv)[0])
            med = statistics.median(times)
            if label.startswith("find"):
                base = med
            results[label] = (med, entries[tk] / med, 0)
        for label, argv in cold:
            med, rate, _ = results[label]
            print(f"{label:42} {med:9.3f} {rate / 1e6:9.3f}M  x find {base / med:5.2f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
