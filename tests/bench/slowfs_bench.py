#!/usr/bin/env python3
"""The slow-filesystem benchmark (issue 18): every walker through slowfs
(tests/slowfs), a FUSE passthrough that answers each lookup, getattr,
opendir and readdir after a set latency, with the kernel's caches off.

    bazel build //:pwalk-engine //tests/bench:all //tests/slowfs //plugins/...
    python3 tests/bench/run.py --group slowfs [--latencies 0,200,1000]
        [--threads 2,8,32,128] [--entries 10000] [--repeat 3] [--dey PATH]
        [--dir DIR] [--out DIR]
    (or python3 tests/bench/slowfs_bench.py with the same options)

One tree (gentree, --entries, ~90 per directory) mounted once; per latency
(microseconds per operation) every case runs --repeat rounds, each round
every case once, the median reported:

- pwalk-engine, csv sink, at each --threads and at `threads: auto`;
- the ceiling loop (tests/bench/ceiling: getdents64 + fstatat, one shared
  directory stack) at each --threads, as run.py runs it (a directory's
  names stat-ed by the thread that read it) and with directories split
  (--chunk 16: any thread stats any 16 names): where every stat waits a
  round trip, the biggest directory read by one thread is the walk's tail;
- John Dey's pwalk (--dey PATH or $PWALK_DEY_BIN, or --dey-src DIR holding
  its pwalk.c, fileProcess.c, exclude.c to build; skipped without);
- `find -printf` with lstat fields (run.py's FIND_FMT).

For each: entries/s; the bound `threads / latency` (each worker has at most
one request in flight and every entry costs at least one lookup) and the
ratio to it; from slowfs's counters the requests per entry and the mean
requests in flight (Little's law: request rate x latency), which for
`threads: auto` says how much concurrency it found.  The FUSE daemon's own
maximum is the best entries/s (and requests/s) of any case at latency 0.
The issue's targets for `auto` at the largest latency are checked and
printed.  Results: slowfs.md (the README's table), slowfs.json, and
slowfs.png (gnuplot: one panel per latency, entries/s against threads).
Needs root and /dev/fuse (it says why not, and exits 77).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "slowfs"))

import run as bench  # noqa: E402  (run.py: binaries, run_timed, FIND_FMT, ...)
from slowfs_helper import SKIP_STATUS, SlowFS, unavailable  # noqa: E402

SLOWFS = os.path.join(bench.BIN, "tests", "slowfs", "slowfs")
# the split ceiling's chunk: 16 names, ~32 requests, ~40 ms of waiting at 1 ms
CHUNK = 16
DEY_THREADS = 32  # MAXTHRDS in Dey's pwalk.c 3.0.0: one thread per directory, at most 32


def int_list(text):
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}")
    if not vals or any(v < 0 for v in vals):
        raise argparse.ArgumentTypeError(f"need integers >= 0: {text!r}")
    return vals


def dey_binary(args, workdir):
    """Dey's pwalk: --dey, $PWALK_DEY_BIN, or built from --dey-src; else None."""
    exe = args.dey or os.environ.get("PWALK_DEY_BIN")
    if exe:
        return exe if os.access(exe, os.X_OK) else None
    if not args.dey_src:
        return None
    exe = os.path.join(workdir, "dey-pwalk")
    srcs = [os.path.join(args.dey_src, f) for f in ("pwalk.c", "fileProcess.c", "exclude.c")]
    subprocess.run(["cc", "-O2", "-pthread", "-o", exe] + srcs, check=True)
    return exe


def private_binaries(baseline=None):
    """Copies of the binaries this run uses, in a fresh directory under
    root's home (as root the engine loads plugins only from directories
    nobody else can write: not below /tmp or /var/tmp): a build elsewhere
    (bazel-bin is shared) must not replace them halfway through a run."""
    d = tempfile.mkdtemp(prefix="pwalk-slowbench-bin-", dir=os.path.expanduser("~"))
    os.chmod(d, 0o755)
    os.mkdir(os.path.join(d, "plugins"))
    shutil.copy(os.path.join(bench.BIN, "plugins", "csv", "csv.so"), os.path.join(d, "plugins"))
    exe = {}
    for key, src in (("engine", bench.ENGINE), ("ceiling", bench.CEILING), ("slowfs", SLOWFS)):
        exe[key] = shutil.copy(src, d)
    if baseline:  # another build's engine and csv sink, in a directory of their own
        os.makedirs(os.path.join(d, "base", "plugins"))
        shutil.copy(os.path.join(baseline, "plugins", "csv", "csv.so"), os.path.join(d, "base", "plugins"))
        exe["base"] = shutil.copy(os.path.join(baseline, "pwalk-engine"), os.path.join(d, "base"))
    return d, exe


def make_cases(args, mnt, tmp, dey, exe):
    """(label, kind, threads or None, argv, csv output or None)."""
    out = lambda n: os.path.join(tmp, n)
    cases = []
    for t in args.threads:
        cfg = bench.pipeline(tmp, "csv", out(f"slow{t}.csv"), t)
        cases.append((f"pwalk csv, {t} threads", "pwalk", t,
                      [exe["engine"], "-q", "-c", cfg, mnt], out(f"slow{t}.csv")))
    cfg = bench.pipeline(tmp, "csv", out("slowauto.csv"), "auto")
    cases.append(("pwalk csv, threads: auto", "auto", None,
                  [exe["engine"], "-q", "-c", cfg, mnt], out("slowauto.csv")))
    if "base" in exe:  # --baseline: the same config, another build's engine
        cfg = bench.pipeline(tmp, "csv", out("baseauto.csv"), "auto")
        cases.append((f"pwalk csv, threads: auto, at {args.baseline_name}", "base-auto", None,
                      [exe["base"], "-q", "-c", cfg, mnt], out("baseauto.csv")))
    for t in args.threads:
        cases.append((f"ceiling, {t} threads", "ceiling", t,
                      [exe["ceiling"], str(t), mnt, out(f"ceil{t}.txt")], None))
    for t in args.threads:
        cases.append((f"ceiling split ({CHUNK}), {t} threads", "split", t,
                      [exe["ceiling"], "--chunk", str(CHUNK), str(t), mnt, out(f"split{t}.txt")], None))
    if dey:
        cases.append((f"Dey's pwalk (<= {DEY_THREADS} threads)", "dey", DEY_THREADS, [dey, mnt], None))
    cases.append(("find -printf", "find", 1, ["find", mnt, "-printf", bench.FIND_FMT], None))
    return cases


def run_latency(fs, latency, cases, entries, repeat):
    """Every case `repeat` rounds at this latency: one result dict per case."""
    fs.set_latency(latency)
    times = {c[0]: [] for c in cases}
    ops = {c[0]: [] for c in cases}
    print(f"\nlatency {latency} us per operation:", flush=True)
    for rnd in range(repeat):
        for label, kind, threads, argv, csv_out in cases:
            mark = fs.settle()
            secs, _, _ = bench.run_timed(argv)
            fs.settle()
            times[label].append(secs)
            ops[label].append(fs.totals(mark))
            if rnd == 0 and csv_out:
                bench.check_rows(label, entries, bench.count_lines(csv_out) - 1)
        print(f"  round {rnd + 1}/{repeat} done", flush=True)
    results = []
    for label, kind, threads, argv, _ in cases:
        med = statistics.median(times[label])
        runs = ops[label]
        meta_ops = statistics.median(o["metadata"] for o in runs)
        rate = entries / med
        bound = threads * 1e6 / latency if latency and threads else None
        results.append({
            "case": label, "kind": kind, "threads": threads, "latency_us": latency,
            "times_s": times[label], "median_s": med, "entries_per_s": rate,
            "bound_per_s": bound, "ratio_to_bound": rate / bound if bound else None,
            "ops_per_entry": meta_ops / entries, "ops_per_s": meta_ops / med,
            # from the daemon's busy_us: requests in flight on average over
            # the run, the most at once, and what a request really waited
            "mean_in_flight": statistics.median(o["busy_us"] / 1e6 / t for o, t in zip(runs, times[label])),
            "peak_in_flight": max(o["inflight_max"] for o in runs),
            "seen_latency_us": statistics.median(o["busy_us"] / max(1, o["metadata"]) for o in runs),
            "ops": {k: statistics.median(o[k] for o in runs) for k in runs[0]},
        })
    for r in results:
        print(f"  {r['case']:34} {r['median_s']:8.3f} s {r['entries_per_s']:10.0f}/s"
              f"  x bound {fmt(r['ratio_to_bound'], '.3f'):>6}  req/entry {r['ops_per_entry']:.2f}"
              f"  in flight {r['mean_in_flight']:6.1f} (peak {r['peak_in_flight']:4d})"
              f"  waited {r['seen_latency_us']:7.0f} us", flush=True)
    return results


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def targets(results, fuse_max):
    """The issue's targets for `threads: auto` at the largest latency."""
    top = max(r["latency_us"] for r in results)
    by_kind = lambda k: [r for r in results if r["latency_us"] == top and r["kind"] == k]
    auto = by_kind("auto")[0]["entries_per_s"]
    find = by_kind("find")[0]["entries_per_s"]
    best_ceiling = max(r["entries_per_s"] for r in by_kind("ceiling") + by_kind("split"))
    best_fixed = max(r["entries_per_s"] for r in by_kind("pwalk"))
    out = [("auto >= 25x find (or 0.8x the best ceiling, if lower)",
            auto, min(25 * find, 0.8 * best_ceiling))]
    dey = by_kind("dey")
    if dey:
        out.append(("auto >= 2x Dey's pwalk (or 0.8x the FUSE daemon's max, if lower)",
                    auto, min(2 * dey[0]["entries_per_s"], 0.8 * fuse_max)))
    out.append(("auto >= 0.8x the best fixed thread count", auto, 0.8 * best_fixed))
    return top, [{"target": t, "auto": a, "needed": n, "met": a >= n} for t, a, n in out]


# ---- outputs -------------------------------------------------------------------

def write_md(outdir, meta, results, checks):
    lat = sorted({r["latency_us"] for r in results})
    cases = list(dict.fromkeys(r["case"] for r in results))
    cell = {(r["case"], r["latency_us"]): r for r in results}
    md = [f"<!-- tests/bench/run.py --group slowfs {meta['date']}: {meta['host']}, {meta['cpus']} CPUs, "
          f"load {meta['load_before']} before, rev {meta['revision']}, {meta['entries']} entries, "
          f"median of {meta['repeat']} -->", "",
          "| case | " + " | ".join(f"{l} us: entries/s (x bound; in flight)" if l
                                   else "0 us: entries/s" for l in lat) + " | requests/entry |",
          "|---|" + "---|" * (len(lat) + 1)]
    for c in cases:
        row = []
        for l in lat:
            r = cell.get((c, l))
            if not r:
                row.append("")
            elif l:
                row.append(f"{r['entries_per_s']:.0f} ({fmt(r['ratio_to_bound'], '.2f')}; "
                           f"{r['mean_in_flight']:.1f})")
            else:
                row.append(f"{r['entries_per_s']:.0f}")
        per_entry = statistics.median(r["ops_per_entry"] for r in results if r["case"] == c)
        md.append(f"| {c} | " + " | ".join(row) + f" | {per_entry:.2f} |")
    md += ["", f"FUSE daemon's own maximum (latency 0, best case: {meta['fuse_max_case']}): "
           f"{meta['fuse_max_entries_per_s']:.0f} entries/s, {meta['fuse_max_ops_per_s']:.0f} requests/s."]
    md += ["", f"Targets for `threads: auto` at {meta['targets_latency_us']} us:", ""]
    for c in checks:
        md.append(f"- {c['target']}: {c['auto']:.0f} vs {c['needed']:.0f} needed: "
                  f"{'**met**' if c['met'] else '**not met**'}")
    with open(os.path.join(outdir, "slowfs.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(outdir, "slowfs.json"), "w") as f:
        json.dump({"meta": meta, "results": results, "targets": checks}, f, indent=2)
        f.write("\n")
    print(f"results: {os.path.join(outdir, 'slowfs.md')}, {os.path.join(outdir, 'slowfs.json')}")


GP_HEAD = r"""# generated by tests/bench/slowfs_bench.py -- render with: gnuplot {gp}
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {{
    set terminal pngcairo size {width},520 font "sans,10" noenhanced
}} else {{
    set terminal png size {width},520 noenhanced
}}
set output "{png}"
set datafile separator "\t"
set multiplot layout 1,{n} title "{title}"
set logscale x 2
set logscale y 10
set format y "%.0f"
set xlabel "threads"
set ylabel "entries/s"
set grid
set key bottom right font ",8" samplen 2 opaque
set xrange [{xmin}:{xmax}]
set yrange [{ymin}:{ymax}]
"""

GP_PANEL = r"""set title "{title}"
plot "{dat}" index {idx} using 1:2 with linespoints lw 2 pt 7 lc rgb "#2E86C1" title "pwalk csv", \
     "" index {idx} using 1:3 with linespoints lw 2 pt 5 lc rgb "#7F8C8D" title "ceiling loop", \
     "" index {idx} using 1:4 with linespoints lw 2 pt 9 dt 2 lc rgb "#7F8C8D" title "ceiling, directories split", \
     {bound}{auto} with lines lw 2 lc rgb "#27AE60" title "pwalk threads: auto", \
     {find} with lines dt 3 lw 2 lc rgb "#E67E22" title "find -printf"{dey}{fuse}
"""


def write_plot(outdir, meta, results):
    lat = sorted({r["latency_us"] for r in results})
    threads = sorted({r["threads"] for r in results if r["kind"] == "pwalk"})
    dat, gp, png = (os.path.join(outdir, f"slowfs.{e}") for e in ("dat", "gp", "png"))
    rates = [r["entries_per_s"] for r in results]
    with open(dat, "w") as f:
        for l in lat:
            by = {(r["kind"], r["threads"]): r["entries_per_s"] for r in results if r["latency_us"] == l}
            for t in threads:
                f.write(f"{t}\t{by.get(('pwalk', t), 'NaN')}\t{by.get(('ceiling', t), 'NaN')}"
                        f"\t{by.get(('split', t), 'NaN')}\n")
            f.write("\n\n")
    text = GP_HEAD.format(gp=os.path.basename(gp), png=os.path.basename(png), n=len(lat),
                          width=440 * len(lat), xmin=threads[0] / 1.5, xmax=threads[-1] * 1.5,
                          ymin=min(rates) / 2, ymax=max(rates) * 3,
                          title=f"pwalk through slowfs ({meta['entries']} entries, {meta['date']}, "
                                f"{meta['cpus']} CPUs, median of {meta['repeat']})")
    for i, l in enumerate(lat):
        one = {r["kind"]: r["entries_per_s"] for r in results if r["latency_us"] == l
               and r["kind"] in ("auto", "find", "dey", "base-auto")}
        bound = (f"x * {1e6 / l:.6g} with lines dt 2 lc rgb \"#C0392B\" title \"bound threads/latency\", "
                 if l else "")
        dey = (f", \\\n     {one['dey']:.6g} with lines dt 4 lw 2 lc rgb \"#8E44AD\" title \"Dey's pwalk\""
               if "dey" in one else "")
        fuse = (f", \\\n     {meta['fuse_max_entries_per_s']:.6g} with lines dt 2 lc rgb \"#000000\" "
                f"title \"FUSE daemon max\"" if l == 0 else "")
        if "base-auto" in one:
            dey += (f", \\\n     {one['base-auto']:.6g} with lines dt 3 lw 2 lc rgb \"#27AE60\" "
                    f"title \"threads: auto at {meta.get('baseline_name', 'baseline')}\"")
        text += GP_PANEL.format(title=f"latency {l} us per operation", dat=os.path.basename(dat), idx=i,
                                bound=bound, auto=f"{one['auto']:.6g}", find=f"{one['find']:.6g}",
                                dey=dey, fuse=fuse)
    text += "unset multiplot\n"
    with open(gp, "w") as f:
        f.write(text)
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("plot: gnuplot not found, skipping slowfs.png (apt-get install gnuplot-nox)")
        return
    proc = subprocess.run([gnuplot, os.path.basename(gp)], cwd=outdir, capture_output=True, text=True)
    print(f"plot: {png}" if proc.returncode == 0 else f"plot: gnuplot failed: {proc.stderr.strip()[:400]}")


# ---- main --------------------------------------------------------------------

def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="/var/tmp/pwalk-bench", help="where the tree lives (built once)")
    ap.add_argument("--out", help="where slowfs.{md,json,png} go (default: --dir)")
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--latencies", type=int_list, default=[0, 200, 1000], metavar="US,US,...")
    ap.add_argument("--threads", type=int_list, default=[2, 8, 32, 128], metavar="N,N,...")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dey", help="John Dey's pwalk binary (default: $PWALK_DEY_BIN)")
    ap.add_argument("--dey-src", help="a directory with Dey's pwalk.c, fileProcess.c, exclude.c to build")
    ap.add_argument("--replot", metavar="JSON", help="only redraw slowfs.{md,png} from a slowfs.json")
    ap.add_argument("--baseline", metavar="BIN",
                    help="another build's bazel-bin: its pwalk-engine at threads: auto as one more case")
    ap.add_argument("--baseline-name", default="baseline", help="what to call it (e.g. a revision)")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.entries < 100 or any(t < 1 for t in args.threads):
        ap.error("--repeat >= 1, --entries >= 100 and thread counts >= 1, please")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.replot:
        with open(args.replot) as f:
            saved = json.load(f)
        outdir = args.out or os.path.dirname(os.path.abspath(args.replot))
        write_md(outdir, saved["meta"], saved["results"], saved["targets"])
        write_plot(outdir, saved["meta"], saved["results"])
        return 0
    reason = unavailable(SLOWFS if os.access(SLOWFS, os.X_OK) else None)
    if reason:
        print(f"slowfs benchmark: skipped: {reason}", file=sys.stderr)
        return SKIP_STATUS
    for exe in (bench.ENGINE, bench.GENTREE, bench.CEILING, os.path.join(bench.BIN, "plugins", "csv", "csv.so")):
        if not os.access(exe, os.R_OK):
            sys.exit(f"{exe} missing: bazel build //:pwalk-engine //tests/bench:all //tests/slowfs //plugins/...")
    os.makedirs(args.dir, exist_ok=True)
    outdir = args.out or args.dir
    os.makedirs(outdir, exist_ok=True)
    tree = os.path.join(args.dir, f"slow{args.entries}")
    if not os.path.isdir(tree):
        print(f"building {tree} ...", flush=True)
        subprocess.run([bench.GENTREE, tree, str(args.entries)], check=True, stdout=subprocess.DEVNULL)
    entries = bench.count_entries(tree)  # also warms the source's cache
    tmp = tempfile.mkdtemp(prefix="pwalk-slowbench-", dir=args.dir)
    bindir, exe = private_binaries(args.baseline)
    try:
        return run_all(args, tree, entries, tmp, outdir, exe)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(bindir, ignore_errors=True)


def run_all(args, tree, entries, tmp, outdir, exe):
    dey = dey_binary(args, tmp)
    if not dey:
        print("Dey's pwalk: skipped (give --dey PATH, $PWALK_DEY_BIN or --dey-src DIR: "
              "github.com/fizwit/filesystem-reporting-tools)")
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
            "kernel": platform.release(), "cpus": os.cpu_count(),
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "revision": bench.revision(), "bin": os.path.realpath(bench.BIN), "repeat": args.repeat, "tree": tree,
            "entries": entries, "latencies_us": args.latencies, "threads": args.threads, "dey": dey,
            "baseline": args.baseline, "baseline_name": args.baseline_name}
    results = []
    with SlowFS(tree, latency_us=0, workdir=args.dir, exe=exe["slowfs"]) as fs:
        cases = make_cases(args, fs.mnt, tmp, dey, exe)
        for latency in args.latencies:
            results += run_latency(fs, latency, cases, entries, args.repeat)
    zero = [r for r in results if r["latency_us"] == 0] or results
    best = max(zero, key=lambda r: r["entries_per_s"])
    meta.update(fuse_max_case=best["case"], fuse_max_entries_per_s=best["entries_per_s"],
                fuse_max_ops_per_s=max(r["ops_per_s"] for r in zero),
                load_after=" ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"\nFUSE daemon's max (latency 0): {best['entries_per_s']:.0f} entries/s ({best['case']}), "
          f"{meta['fuse_max_ops_per_s']:.0f} requests/s")
    top, checks = targets(results, best["entries_per_s"])
    meta["targets_latency_us"] = top
    for c in checks:
        print(f"target at {top} us: {c['target']}: {c['auto']:.0f} vs {c['needed']:.0f}: "
              f"{'met' if c['met'] else 'NOT met'}")
    write_md(outdir, meta, results, checks)
    write_plot(outdir, meta, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
