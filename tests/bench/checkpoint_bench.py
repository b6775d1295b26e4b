#!/usr/bin/env python3
"""What checkpoints cost (issue 19): the csv scan of the 1M-entry tree
without a journal and with --checkpoint FILE --checkpoint-every EVERY, as
interleaved pairs (the order alternating, a sync before each run, so that
load from elsewhere falls on both alike).

    bazel build //:pwalk-engine //tests/bench:gentree //plugins/...
    python3 tests/bench/checkpoint_bench.py [--pairs N] [--every 5s,1s,250ms]
                                            [--threads N] [--dir DIR] [--tree PATH]

For each EVERY it prints the median wall and CPU (user + system) times of
both, the median of the pairs' speed ratios (time without / time with:
the issue's target is >= 0.95 at 5s), the same for CPU time (steadier
when the machine is shared) and how many checkpoints a scan
wrote (journal replacements seen by a 20 ms poller).  A
warm 1M scan on 2 cores takes ~2 s: at 5s it writes no periodic checkpoint
(its cost is then the first checkpoint, written once the root is read, the
journal's setup and the final removal); the shorter
intervals show what each checkpoint costs (a pause of the walk, every
sink's fsync, the journal's write + fsync + rename).  The tree is run.py's
(DIR/tree1m, built with gentree when missing).  Not a pass/fail test.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PWALK_BIN", os.path.join(REPO, "bazel-bin"))
ENGINE = os.path.join(BIN, "pwalk-engine")
GENTREE = os.path.join(BIN, "tests", "bench", "gentree")


def journal_writes(path, stop, seen):
    """Counts the journal's replacements (each a new inode) until stop."""
    last = None
    while not stop.is_set():
        try:
            ino = os.stat(path).st_ino
        except OSError:
            ino = None
        if ino is not None and ino != last:
            seen.append(ino)
            last = ino
        time.sleep(0.02)  # intervals are >= 250 ms: none missed


def run_once(argv, journal):
    """(wall seconds, CPU seconds, journal writes seen) of one scan; the
    poller runs beside both kinds of scan, so that its own (small) load
    falls on both alike."""
    subprocess.run(["sync"], check=True)
    seen, stop = [], threading.Event()
    poller = threading.Thread(target=journal_writes, args=(journal, stop, seen))
    poller.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop.set()
    poller.join()
    if r.returncode not in (0, 1):
        sys.exit("checkpoint_bench: %s exited %d: %s" % (
            argv[0], r.returncode, r.stderr.decode(errors="replace")[-400:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, len(seen)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--every", default="5s,1s,250ms",
                    help="checkpoint intervals, comma-separated (default 5s,1s,250ms)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dir", default="/var/tmp/pwalk-bench", help="run.py's tree directory")
    ap.add_argument("--tree", help="scan this tree instead of DIR/tree1m")
    args = ap.parse_args()
    # after a sanitizer build, bazel-bin points at instrumented binaries
    # (NOTES.md "A pitfall"): their numbers would mean nothing
    real_bin = os.path.realpath(BIN)
    if any(tag in real_bin for tag in ("fastbuildasan", "fastbuildtsan")):
        sys.exit("checkpoint_bench: %s is a sanitizer build (%s): bazel build the plain "
                 "targets first, or set PWALK_BIN" % (BIN, real_bin))
    for exe in (ENGINE, GENTREE):
        if not os.access(exe, os.X_OK):
            sys.exit("%s missing: bazel build //:pwalk-engine //tests/bench:gentree //plugins/..."
                     % exe)
    tree = args.tree or os.path.join(args.dir, "tree1m")
    if not os.path.isdir(tree):
        print("building %s ..." % tree, flush=True)
        os.makedirs(os.path.dirname(tree), exist_ok=True)
        subprocess.run([GENTREE, tree, "1000000"], check=True, stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="pwalk-ckbench-", dir=args.dir)
    cfg = os.path.join(tmp, "csv.yaml")
    with open(cfg, "w") as f:
        f.write("version: 1\nscan: {threads: %d}\nsinks:\n"
                "  - {name: out, plugin: csv, options: {path: '%s', header: true}}\n"
                % (args.threads, os.path.join(tmp, "scan.csv")))
    journal = os.path.join(tmp, "scan.ckpt")
    plain = [ENGINE, "-q", "-c", cfg, tree]
    print("tree %s, %d threads, %d interleaved pairs per interval, load %s" % (
        tree, args.threads, args.pairs, " ".join("%.2f" % x for x in os.getloadavg())))
    print("%-8s %10s %10s %10s %10s %12s %12s %10s %12s" % (
        "every", "wall off", "wall on", "cpu off", "cpu on", "speed ratio", "min..max",
        "cpu ratio", "checkpoints"))
    try:
        run_once(plain, journal)  # warm the cache
        for every in args.every.split(","):
            on = [ENGINE, "-q", "-c", cfg, "--checkpoint", journal, "--checkpoint-every", every,
                  tree]
            run_once(on, journal)
            offs, ons, ratios, cpus, writes = [], [], [], [], []
            for i in range(args.pairs):
                order = [(False, plain), (True, on)]
                if i % 2:
                    order.reverse()
                res = {}
                for with_ckpt, argv in order:
                    res[with_ckpt] = run_once(argv, journal)
                offs.append(res[False])
                ons.append(res[True])
                ratios.append(res[False][0] / res[True][0])
                cpus.append(res[False][1] / res[True][1])
                writes.append(res[True][2])
            med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
            print("%-8s %9.3fs %9.3fs %9.3fs %9.3fs %12.3f %5.3f..%5.3f %10.3f %12s" % (
                every, med(offs, 0), med(ons, 0), med(offs, 1), med(ons, 1),
                statistics.median(ratios), min(ratios), max(ratios), statistics.median(cpus),
                "%d..%d" % (min(writes), max(writes))), flush=True)
    finally:
        subprocess.run(["rm", "-rf", tmp])
    print("speed ratio: wall without / wall with, median of the pairs (target >= 0.95 at 5s); "
          "cpu ratio: the same for user + system CPU (steadier on a loaded machine); "
          "checkpoints: journal replacements seen per scan")


if __name__ == "__main__":
    main()
