#!/usr/bin/env python3
"""The pwalk benchmark: build the trees once, run every case side by side.

    bazel build //:pwalk-engine //tests/bench:all //plugins/...
    python3 tests/bench/run.py [--quick] [--repeat N] [--threads N] [--dir DIR] [--out DIR]
                               [--cold [--cold-threads 2,4,8,16]]

Every case runs once to warm the cache, then --repeat rounds (default 5)
each run every case once, so that load from elsewhere falls on all cases
alike, and each starts after a sync (no write-back of the previous case's
output on its clock); the median is reported with the rate and the ratio to the ceiling measured
in the same run (these machines are shared and noisy: ratios, not absolute
numbers, are what compare).  Peak RSS comes from GNU time (%M).  Nothing
here is a pass/fail test.

The summary sink (issue 15) runs beside the csv sink in one walk, on the
1M tree and on a 100k-directory tree (dirs100k: ~500k entries, ~4 per
directory): "summary cost" prints its time ratio to csv alone (target
<= 1.10x) and the peak RSS it adds (target <= 16 MiB on the 1M tree);
--summary-pairs N runs only that comparison, as N interleaved pairs.

--cold (root: sync, then 3 > /proc/sys/vm/drop_caches before every run)
adds a cold-cache sweep: the csv sink at each of --cold-threads and
`find -printf` (the warm find case's fields), each rate compared with
find's cold rate.

Results go to --out (default: --dir): results.md (the README's table),
results.json, and bench.dat + bench.gp rendered to bench.png by gnuplot
(bench-cold.* likewise with --cold); without gnuplot the PNGs are skipped.
PWALK_BIN=DIR takes the binaries from DIR instead of bazel-bin.

--group slowfs (first option) runs only the slow-filesystem cases of
issue 18 instead, through tests/slowfs (root, /dev/fuse): slowfs_bench.py
says what they are and takes the options after it.

pwalk-diff (issue 16) against DuckDB's FULL OUTER JOIN of the same two
.csv.zst reports runs last (diffbench.py: 1M and 5M rows by default,
--diff-rows N,N; '' leaves it out; --quick: 100k), its table appended to
results.md; --group diff (first option) runs only it (diffbench.py's options).
"""
import argparse
import atexit
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import diffbench  # the pwalk-diff case (beside this file)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PWALK_BIN", os.path.join(REPO, "bazel-bin"))
ENGINE = os.path.join(BIN, "pwalk-engine")
GENTREE = os.path.join(BIN, "tests", "bench", "gentree")
CEILING = os.path.join(BIN, "tests", "bench", "ceiling")
# the extension and the package's plugins, as //python:pwalk builds them
PY_BUILT = os.path.join(BIN, "python", "pwalk")
FIND_FMT = "%i,%s,%m,%T@,%U,%G,%n,%b,%p\n"  # 9 fields, like the csv sink's most-used ones


def run_timed(argv, stdout=subprocess.DEVNULL, env=None, cpu=None):
    """Run argv; return (seconds, peak RSS in KiB, stdout bytes or None);
    with a list as cpu, its user + system CPU seconds are appended to it.

    RSS comes from GNU time (%M): wait4() on a child forked from Python
    would report the Python image it started from."""
    with tempfile.NamedTemporaryFile("r") as rss:
        wrapped = ["/usr/bin/time", "-f", "%U %S %M", "-o", rss.name] + argv
        t0 = time.perf_counter()
        proc = subprocess.run(wrapped, stdout=stdout, stderr=subprocess.PIPE, env=env)
        seconds = time.perf_counter() - t0
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{argv[0]} exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace').strip()[:400]}")
        text = rss.read().strip().splitlines()
    fields = text[-1].split() if text else []
    if cpu is not None and len(fields) == 3:
        cpu.append(float(fields[0]) + float(fields[1]))
    return seconds, int(fields[-1]) if fields and fields[-1].isdigit() else 0, proc.stdout


def count_entries(tree):
    n = 1
    for _, dirs, files in os.walk(tree):
        n += len(dirs) + len(files)
    return n


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 22)
            if not chunk:
                return n
            n += chunk.count(b"\n")


def pipeline_summary(tmp, path, sdir, threads):
    """The csv sink and the summary sink in one walk (issue 15's cost case)."""
    cfg = os.path.join(tmp, f"csv-summary-{threads}-{os.path.basename(path)}.yaml")
    with open(cfg, "w") as f:
        f.write(
            "version: 1\n"
            f"scan: {{threads: {threads}, skip_snapshots: true}}\n"
            "sinks:\n"
            f"  - name: out\n    plugin: csv\n"
            f"    options: {{path: '{path}', header: true}}\n"
            f"  - name: summary\n    plugin: summary\n"
            f"    options: {{dir: '{sdir}', print: 'false'}}\n"
        )
    return cfg


def summary_costs(results, rss, cpu, pairs):
    """(tree, csv label, csv+summary label) -> the summary's time ratio, CPU
    time ratio (user + system: what load from elsewhere disturbs least) and
    added peak RSS (issue 15: <= 1.10x, <= 16 MiB on the 1M tree)."""
    out = []
    for key, base, both in pairs:
        if base in results and both in results and cpu[base] and cpu[both]:
            out.append({"tree": key, "ratio": results[base] / results[both],
                        "cpu_ratio": statistics.median(cpu[both]) / statistics.median(cpu[base]),
                        "added_rss_kib": rss[both] - rss[base], "csv_rss_kib": rss[base],
                        "both_rss_kib": rss[both]})
    for c in out:
        print(f"summary cost ({c['tree']}): csv + summary / csv = {c['ratio']:.3f}x time, "
              f"{c['cpu_ratio']:.3f}x CPU, +{c['added_rss_kib'] / 1024:.1f} MiB peak RSS "
              f"({c['both_rss_kib'] / 1024:.1f} vs {c['csv_rss_kib'] / 1024:.1f})")
    return out


def summary_pairs(args, paths, tmp):
    """--summary-pairs N: csv alone and csv + summary back to back, N times,
    the order alternating, each after a sync; per-pair ratios of wall and
    CPU time (median), peak RSS (max).  Under load a pair shares its
    conditions better than rounds over every case do."""
    t = args.threads
    for key in ("1m", "dirs100k"):
        if key not in paths:
            continue
        argv = {"csv": [ENGINE, "-q", "-c", pipeline(tmp, "csv", os.path.join(tmp, "p.csv"), t),
                        paths[key]],
                "both": [ENGINE, "-q", "-c", pipeline_summary(tmp, os.path.join(tmp, "p.csv"),
                                                              os.path.join(tmp, "p-summary"), t),
                         paths[key]]}
        wall, cpu, rss = {"csv": [], "both": []}, {"csv": [], "both": []}, {"csv": 0, "both": 0}
        for i in range(args.summary_pairs):
            for c in (("csv", "both") if i % 2 == 0 else ("both", "csv")):
                os.sync()
                s, r, _ = run_timed(argv[c], cpu=cpu[c])
                wall[c].append(s)
                rss[c] = max(rss[c], r)
        ratio = lambda d: statistics.median(b / a for a, b in zip(d["csv"], d["both"]))
        print(f"summary pairs ({key}, {t} threads, {args.summary_pairs} pairs): wall "
              f"{ratio(wall):.3f}x (per pair {min(b / a for a, b in zip(wall['csv'], wall['both'])):.2f}-"
              f"{max(b / a for a, b in zip(wall['csv'], wall['both'])):.2f}), CPU {ratio(cpu):.3f}x "
              f"({statistics.median(cpu['csv']):.2f} -> {statistics.median(cpu['both']):.2f} s), "
              f"peak RSS {rss['csv'] / 1024:.1f} -> {rss['both'] / 1024:.1f} MiB "
              f"(+{(rss['both'] - rss['csv']) / 1024:.1f})", flush=True)


def pipeline(tmp, plugin, path, threads):
    cfg = os.path.join(tmp, f"{plugin}-{threads}-{os.path.basename(path)}.yaml")
    with open(cfg, "w") as f:
        f.write(
            "version: 1\n"
            f"scan: {{threads: {threads}, skip_snapshots: true}}\n"
            "sinks:\n"
            f"  - name: out\n    plugin: {plugin}\n"
            f"    options: {{path: '{path}', header: true}}\n"
        )
    return cfg


# walk() against os.walk in a fresh interpreter each: every entry is touched
# (the lists are consumed), nothing else is done, so the two differ only in
# the walker.  Run with argv: WALKER TREE [digest]; prints "entries [sha256]".
# WALKER "scan:T": pwalk.scan() with T threads, every Entry taken (its path
# read), to compare with the csv sink writing the same rows.
WALK_SCRIPT = r"""
import hashlib, os, sys
walker, tree = sys.argv[1], sys.argv[2]
if walker.startswith("scan:"):
    import pwalk
    n = 0
    for e in pwalk.scan(tree, max_threads=int(walker[5:])):
        n += e.path is not None
    print(n, "")
    sys.exit(0)
if walker == "pwalk":
    import pwalk
    it = pwalk.walk(tree, ignore_snapshots=False)
else:
    it = os.walk(tree)
h = hashlib.sha256() if len(sys.argv) > 3 else None
n = 1
for top, dirs, files in it:
    n += len(dirs) + len(files)
    if h:
        h.update(repr((top, dirs, files)).encode("utf-8", "surrogateescape"))
print(n, h.hexdigest() if h else "")
"""


def python_package(tmp):
    """A pwalk package dir (sources from the tree, extension and plugins from
    BIN), or None when //python:pwalk was not built."""
    so = os.path.join(PY_BUILT, "_pwalk.so")
    if not os.path.exists(so):
        return None
    if os.geteuid() == 0:
        # as root the engine loads no plugin from under a world-writable
        # directory such as /var/tmp (pwalk.scan() needs walk-iterator.so):
        # keep this copy under root's home, removed with the rest
        tmp = tempfile.mkdtemp(prefix="pwalk-bench-py-", dir=os.path.expanduser("~"))
        atexit.register(shutil.rmtree, tmp, True)
    pkg = os.path.join(tmp, "py", "pwalk")
    shutil.copytree(os.path.join(REPO, "python", "pwalk"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(so, pkg)
    shutil.copytree(os.path.join(PY_BUILT, "plugins"), os.path.join(pkg, "plugins"), symlinks=False)
    script = os.path.join(tmp, "py", "walkbench.py")
    with open(script, "w") as f:
        f.write(WALK_SCRIPT)
    return script


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def thread_list(text):
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of thread counts: {text!r}")
    if not vals or any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1: {text!r}")
    return vals


def check_rows(label, expected, got):
    """Warn (not fail: this is a benchmark) when a case wrote the wrong number of rows."""
    if got is not None and got != expected:
        print(f"  WARNING: {label} wrote {got} rows, the tree has {expected} entries", flush=True)


def walk_same_results(script, env, tree, n):
    """Untimed: pwalk.walk() and os.walk yield the same (top, dirs, files)
    in the same order -- one digest over everything each yields."""
    got = {}
    for walker in ("os", "pwalk"):
        out = subprocess.run([sys.executable, script, walker, tree, "digest"], env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        got[walker] = (int(out[0]), out[1])
    same = got["os"] == got["pwalk"] and got["os"][0] == n
    print(f"walk(): {'same results as os.walk' if same else 'DIFFERENT results from os.walk'} "
          f"({got['pwalk'][0]} entries, sha256 {got['pwalk'][1][:12]} vs {got['os'][1][:12]})", flush=True)
    return same


def revision():
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fmt_rate(r):
    return f"{r / 1e6:.3g}M"


# ---- plot -------------------------------------------------------------------

GP_TEMPLATE = r"""# generated by tests/bench/run.py -- render with: gnuplot {gp}
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {{
    set terminal pngcairo size 1100,{height} font "sans,10" noenhanced
}} else {{
    set terminal png size 1100,{height} noenhanced
}}
set output "{png}"
set datafile separator "\t"
set title "{title}"
set xlabel "rows/s (millions)"
set xrange [0:{xmax}]
set yrange [{n}-0.5:-0.5]
set ytics nomirror scale 0
set xtics nomirror
set grid xtics
set border 3
set key outside below horizontal noautotitle
set style fill solid 0.85 border rgb "#333333"
set arrow 1 from {ref}, graph 0 to {ref}, graph 1 nohead dashtype 2 linewidth 2 linecolor rgb "#c0392b" back
set style textbox opaque noborder
# columns: 1 case, 2 median s, 3 rows/s (M), 4 ratio, 5 peak RSS MiB, 6 colour, 7 bar label
plot "{dat}" using (0):0:(0):3:($0-0.38):($0+0.38):(int(strcol(6))):ytic(1) \
         with boxxyerror linecolor rgb variable, \
     "" using 3:0:7 with labels boxed left offset 0.6, 0 font ",9", \
     NaN with lines dashtype 2 linewidth 2 linecolor rgb "#c0392b" title "{ref_label}"
"""

COLOURS = {"ceiling": 0x7F8C8D, "pwalk": 0x2E86C1, "other": 0xE67E22}


def write_plot(outdir, stem, title, rows, ref_rate, ref_label):
    """rows: dicts with case, median_s, rows_per_s, ratio, peak_rss_kib, kind.
    Writes STEM.dat and STEM.gp into outdir and renders STEM.png when gnuplot is there."""
    dat, gp, png = (os.path.join(outdir, f"{stem}.{ext}") for ext in ("dat", "gp", "png"))
    with open(dat, "w") as f:
        for r in rows:
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
            label = f"{fmt_rate(r['rows_per_s'])}/s  {ratio}".rstrip()
            f.write("\t".join([r["case"], f"{r['median_s']:.4f}", f"{r['rows_per_s'] / 1e6:.4f}",
                               "" if r["ratio"] is None else f"{r['ratio']:.4f}",
                               f"{r['peak_rss_kib'] / 1024:.1f}", str(COLOURS[r["kind"]]), label]) + "\n")
    xmax = max([r["rows_per_s"] for r in rows] + [ref_rate]) / 1e6 * 1.4
    with open(gp, "w") as f:
        f.write(GP_TEMPLATE.format(gp=os.path.basename(gp), png=os.path.basename(png),
                                   dat=os.path.basename(dat), title=title, n=len(rows),
                                   height=max(300, 140 + 34 * len(rows)), xmax=f"{xmax:.4f}",
                                   ref=f"{ref_rate / 1e6:.4f}", ref_label=ref_label))
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print(f"plot: gnuplot not found, skipping {os.path.basename(png)} (apt-get install gnuplot-nox)")
        return
    proc = subprocess.run([gnuplot, os.path.basename(gp)], cwd=outdir, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"plot: gnuplot failed on {gp}: {proc.stderr.strip()[:400]}")
    else:
        print(f"plot: {png}")


# ---- results files ----------------------------------------------------------

def write_results(outdir, meta, warm, scaling, cold):
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"meta": meta, "warm": warm, "scaling": scaling, "cold": cold}, f, indent=2)
        f.write("\n")
    md = [f"<!-- tests/bench/run.py {meta['date']}: {meta['host']}, {meta['cpus']} CPUs, "
          f"load {meta['load_before']} before, rev {meta['revision']}, "
          f"median of {meta['repeat']}, {meta['threads']} threads -->",
          "",
          "| case | median s | rows/s | x ceiling | peak RSS MiB |",
          "|---|---|---|---|---|"]
    for r in warm:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        md.append(f"| {r['case']} | {r['median_s']:.3f} | {fmt_rate(r['rows_per_s'])} | {ratio} | "
                  f"{r['peak_rss_kib'] / 1024:.1f} |")
    if scaling:
        md.append("")
        md.append("Scaling, same tree: " + "; ".join(
            f"{s['what']} {s['threads']} threads / 1 thread = {s['speedup']:.2f}x" for s in scaling) + ".")
    for c in meta.get("summary_cost", []):
        md.append("")
        md.append(f"Summary sink ({c['tree']}): csv + summary in one walk / csv alone = "
                  f"{c['ratio']:.3f}x the time ({c['cpu_ratio']:.3f}x the CPU time), "
                  f"+{c['added_rss_kib'] / 1024:.1f} MiB peak RSS.")
    if cold:
        md += ["", "Cold cache (caches dropped before every run):", "",
               "| case | median s | rows/s | x find cold | peak RSS MiB |", "|---|---|---|---|---|"]
        for r in cold:
            ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
            md.append(f"| {r['case']} | {r['median_s']:.3f} | {fmt_rate(r['rows_per_s'])} | {ratio} | "
                      f"{r['peak_rss_kib'] / 1024:.1f} |")
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"results: {os.path.join(outdir, 'results.md')}, {os.path.join(outdir, 'results.json')}")


# ---- main -------------------------------------------------------------------

def main():
    # --group slowfs: only the slow-filesystem cases (slowfs_bench.py, its own options)
    argv = sys.argv[1:]
    if argv[:2] == ["--group", "slowfs"] or argv[:1] == ["--group=slowfs"]:
        import slowfs_bench
        sys.exit(slowfs_bench.main(argv[2:] if argv[0] == "--group" else argv[1:]))
    if argv[:2] == ["--group", "diff"] or argv[:1] == ["--group=diff"]:
        sys.argv = [sys.argv[0]] + (argv[2:] if argv[0] == "--group" else argv[1:])
        sys.exit(diffbench.main())
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--diff-rows", type=diffbench.rows_list, default=None, metavar="N,N,...",
                    help="pwalk-diff vs DuckDB at these report sizes (default 1000000,5000000; "
                         "--quick 100000; '' none)")
    ap.add_argument("--group", choices=["default", "slowfs", "diff"], default="default",
                    help="slowfs: only the slow-filesystem cases, first option (see slowfs_bench.py --help)")
    ap.add_argument("--dir", default="/var/tmp/pwalk-bench", help="where the trees live (built once)")
    ap.add_argument("--out", help="where results.{md,json} and bench.png go (default: --dir)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="100k-entry tree only (smoke run)")
    ap.add_argument("--cold", action="store_true", help="also a cold-cache sweep (root: drops caches)")
    ap.add_argument("--cold-threads", type=thread_list, default=[2, 4, 8, 16], metavar="N,N,...",
                    help="csv sink thread counts for --cold (default 2,4,8,16)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--summary-pairs", type=int, metavar="N",
                    help="only the summary's cost: N interleaved pairs (csv alone, csv + summary, "
                         "order alternating) on the 1M and dirs100k trees; steadier under load")
    args = ap.parse_args()
    if args.repeat < 1 or args.threads < 1:
        ap.error("--repeat and --threads must be >= 1")
    # after scripts/test.sh, bazel-bin points at the last sanitizer build:
    # numbers of instrumented binaries would be meaningless (NOTES.md)
    real_bin = os.path.realpath(BIN)
    if any(tag in real_bin for tag in ("fastbuildasan", "fastbuildtsan")):
        sys.exit(f"run.py: {BIN} is a sanitizer build ({real_bin}); run "
                 f"`bazel build //:pwalk-engine //tests/bench:all //plugins/... //python:all` "
                 f"first, or point PWALK_BIN at a plain build")

    for exe in (ENGINE, GENTREE, CEILING):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} missing: run `bazel build //:pwalk-engine //tests/bench:all //plugins/...` first")
    os.makedirs(args.dir, exist_ok=True)
    outdir = args.out or args.dir
    os.makedirs(outdir, exist_ok=True)
    trees = {"100k": ("tree100k", ["100000"]), "1m": ("tree1m", ["1000000"]),
             "huge": ("huge300k", ["300010", "--huge", "300000"]),
             # ~500k entries in 105,933 directories: what the summary's
             # memory grows with (directories, not files)
             "dirs100k": ("dirs100k", ["500000", "4", "--dir-every", "3"])}
    if args.quick:
        trees = {"100k": trees["100k"]}
    paths = {}
    for key, (name, gen_args) in trees.items():
        p = os.path.join(args.dir, name)
        if not os.path.isdir(p):
            print(f"building {p} ...", flush=True)
            subprocess.run([GENTREE, p] + gen_args, check=True, stdout=subprocess.DEVNULL)
        paths[key] = p

    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
            "kernel": platform.release(), "cpus": os.cpu_count(),
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "revision": revision(), "bin": BIN, "repeat": args.repeat, "threads": args.threads,
            "quick": args.quick, "trees": paths}
    tmp = tempfile.mkdtemp(prefix="pwalk-bench-", dir=args.dir)
    try:
        if args.summary_pairs:
            summary_pairs(args, paths, tmp)
            return
        run_all(args, paths, tmp, outdir, meta)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_all(args, paths, tmp, outdir, meta):
    out = lambda n: os.path.join(tmp, n)
    t = args.threads
    tk = "1m" if "1m" in paths else "100k"
    main_tree = paths[tk]
    entries = {k: count_entries(p) for k, p in paths.items()}
    meta["entries"] = entries

    # (label, tree key, argv, baseline label or None, kind, csv output to row-check or None)
    cases = []
    for key in paths:
        cases.append((f"ceiling ({key}, {t} threads)", key, [CEILING, str(t), paths[key], out("ceil.txt")],
                      None, "ceiling", None))
    ceil = f"ceiling ({tk}, {t} threads)"
    for plugin, fname in (("csv", "s.csv"), ("csv-zstd", "s.csv.zst"), ("csv-lz4", "s.csv.lz4"),
                          ("csv-gzip", "s.csv.gz")):
        cfg = pipeline(tmp, plugin, out(fname), t)
        cases.append((f"pwalk {plugin} ({tk}, {t} threads)", tk, [ENGINE, "-q", "-c", cfg, main_tree], ceil,
                      "pwalk", out(fname) if plugin == "csv" else None))
    # more workers than cores: what oversubscribing costs on a warm cache
    # (it pays on a cold one: --cold)
    cfg2 = pipeline(tmp, "csv", out("over.csv"), 2 * t)
    cases.append((f"pwalk csv ({tk}, {2 * t} threads)", tk, [ENGINE, "-q", "-c", cfg2, main_tree], ceil,
                  "pwalk", None))
    cfg1 = pipeline(tmp, "csv", out("one.csv"), 1)
    cases.append((f"pwalk csv ({tk}, 1 thread)", tk, [ENGINE, "-q", "-c", cfg1, main_tree], ceil, "pwalk", None))
    cases.append((f"ceiling ({tk}, 1 thread)", tk, [CEILING, "1", main_tree, out("ceil1.txt")], ceil,
                  "ceiling", None))
    if "huge" in paths:
        cfg = pipeline(tmp, "csv", out("huge.csv"), t)
        cases.append((f"pwalk csv (huge dir 300k, {t} threads)", "huge", [ENGINE, "-q", "-c", cfg, paths["huge"]],
                      f"ceiling (huge, {t} threads)", "pwalk", out("huge.csv")))
    # the summary sink beside the csv sink, against the csv sink alone
    summary_pairs = []
    for key in (tk, "dirs100k"):
        if key not in paths:
            continue
        base = f"pwalk csv ({tk}, {t} threads)"
        if key != tk:
            base = f"pwalk csv ({key}, {t} threads)"
            cases.append((base, key, [ENGINE, "-q", "-c", pipeline(tmp, "csv", out(f"{key}.csv"), t),
                                      paths[key]], f"ceiling ({key}, {t} threads)", "pwalk", None))
        both = f"pwalk csv + summary ({key}, {t} threads; ratio to csv)"
        cfg = pipeline_summary(tmp, out(f"{key}-s.csv"), out(f"summary-{key}"), t)
        cases.append((both, key, [ENGINE, "-q", "-c", cfg, paths[key]], base, "pwalk",
                      out(f"{key}-s.csv")))
        summary_pairs.append((key, base, both))
    if "100k" in paths and tk != "100k":
        cfg = pipeline(tmp, "csv", out("small.csv"), t)
        cases.append((f"pwalk csv (100k, {t} threads)", "100k", [ENGINE, "-q", "-c", cfg, paths["100k"]],
                      f"ceiling (100k, {t} threads)", "pwalk", None))
    walk_script = python_package(tmp)
    walk_env = None
    if walk_script:
        walk_env = dict(os.environ, PYTHONPATH=os.path.dirname(walk_script))
        cases.append((f"os.walk ({tk})", tk, [sys.executable, walk_script, "os", main_tree], ceil,
                      "other", None))
        cases.append((f"pwalk.walk() ({tk}; ratio to os.walk)", tk, [sys.executable, walk_script, "pwalk", main_tree],
                      f"os.walk ({tk})", "pwalk", None))
        # the same rows as the csv sink, handed to Python instead of a file
        cases.append((f"pwalk.scan() ({tk}, {t} threads; ratio to csv)", tk,
                      [sys.executable, walk_script, f"scan:{t}", main_tree],
                      f"pwalk csv ({tk}, {t} threads)", "pwalk", None))
    else:
        print(f"walk(): skipped ({PY_BUILT}/_pwalk.so missing: bazel build //python:pwalk)")
    cases.append((f"find -printf ({tk})", tk, ["find", main_tree, "-printf", FIND_FMT], ceil, "other", None))
    cases.append((f"du -s ({tk})", tk, ["du", "-s", main_tree], ceil, "other", None))

    # Warm-up (and the row checks) first, then --repeat rounds that each run
    # every case once: a slow spell on a shared machine then lands on all
    # cases alike instead of on whichever case was running.
    for label, key, argv, base, kind, csv_out in cases:
        env = walk_env if argv[0] == sys.executable else None
        counted = kind == "ceiling" or argv[2:3] == [f"scan:{t}"]
        _, _, so = run_timed(argv, stdout=subprocess.PIPE if counted else subprocess.DEVNULL,
                             env=env)
        if counted:  # it prints "N rows" (scan(): "N ")
            check_rows(label, entries[key], int(so.split()[0]) if so and so.split()[0].isdigit() else -1)
        if csv_out:  # header + one line per entry
            check_rows(label, entries[key], count_lines(csv_out) - 1)
    times = {c[0]: [] for c in cases}
    rss = {c[0]: 0 for c in cases}
    cpu = {c[0]: [] for c in cases}
    for rnd in range(args.repeat):
        print(f"round {rnd + 1}/{args.repeat}", flush=True)
        for label, key, argv, base, kind, csv_out in cases:
            # untimed: the previous case's report (up to 147 MB of dirty
            # pages) must not be written back on this case's clock
            os.sync()
            s, r, _ = run_timed(argv, env=walk_env if argv[0] == sys.executable else None,
                                cpu=cpu[label])
            times[label].append(s)
            rss[label] = max(rss[label], r)

    results, warm = {}, []
    print(f"{'case':42} {'median s':>9} {'rows/s':>10} {'x ceiling':>10} {'peak RSS':>10}")
    for label, key, argv, base, kind, csv_out in cases:
        med = statistics.median(times[label])
        rate = entries[key] / med
        results[label] = rate
        ratio = 1.0 if base is None else rate / results[base] if base in results else None
        warm.append({"case": label, "tree": key, "entries": entries[key], "argv": argv,
                     "times_s": times[label], "median_s": med, "rows_per_s": rate, "ratio": ratio,
                     "ratio_to": base or label, "peak_rss_kib": rss[label], "kind": kind,
                     "cpu_s": cpu[label]})
        rtext = "-" if ratio is None else f"{ratio:.2f}"
        print(f"{label:42} {med:9.3f} {rate / 1e6:9.3f}M {rtext:>10} {rss[label] / 1024:8.1f}MiB", flush=True)

    meta["summary_cost"] = summary_costs(results, rss, cpu, summary_pairs)
    if walk_script:
        meta["walk_same_results"] = walk_same_results(walk_script, walk_env, main_tree, entries[tk])

    # 1 vs N threads on the same tree, for the ceiling and the csv sink
    scaling = []
    for what, many, one in (("ceiling", ceil, f"ceiling ({tk}, 1 thread)"),
                            ("pwalk csv", f"pwalk csv ({tk}, {t} threads)", f"pwalk csv ({tk}, 1 thread)")):
        if t != 1 and many in results and one in results:
            scaling.append({"what": what, "tree": tk, "threads": t, "speedup": results[many] / results[one]})
    if scaling:
        print("scaling: " + "; ".join(f"{s['what']} {s['threads']} threads / 1 thread = {s['speedup']:.2f}x"
                                      for s in scaling))

    cold = []
    if args.cold:
        cold = run_cold(args, tk, main_tree, entries[tk], tmp, out)

    rows = args.diff_rows if args.diff_rows is not None else \
        [100000] if args.quick else [1000000, 5000000]
    meta["diff"] = diffbench.run(BIN, args.dir, rows, args.repeat, t) if rows else []
    meta["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    write_results(outdir, meta, warm, scaling, cold)
    if meta["diff"]:
        with open(os.path.join(outdir, "results.md"), "a") as f:
            f.write("\n".join(diffbench.markdown(meta["diff"])) + "\n")
    write_plot(outdir, "bench", f"pwalk benchmark, warm cache ({meta['date']}, {meta['cpus']} CPUs, "
               f"median of {args.repeat}): rows/s, ratio to the ceiling",
               warm, results[ceil], f"{ceil}: {fmt_rate(results[ceil])}/s")
    if cold:
        find = next(r for r in cold if r["kind"] == "other")
        write_plot(outdir, "bench-cold", f"pwalk benchmark, cold cache ({tk}, {meta['date']}): "
                   "rows/s, ratio to find", cold, find["rows_per_s"],
                   f"{find['case']}: {fmt_rate(find['rows_per_s'])}/s")


def run_cold(args, tk, tree, n, tmp, out):
    if os.geteuid() != 0:
        print("\ncold: skipped (needs root to write /proc/sys/vm/drop_caches)")
        return []
    try:
        drop_caches()
    except OSError as e:
        print(f"\ncold: skipped (cannot drop caches: {e})")
        return []
    print(f"\ncold cache ({tk}; sync + drop_caches before every run):")
    cases = []
    for threads in args.cold_threads:
        cfg = pipeline(tmp, "csv", out(f"cold{threads}.csv"), threads)
        cases.append((f"pwalk csv cold ({tk}, {threads} threads)", [ENGINE, "-q", "-c", cfg, tree], "pwalk"))
    cases.append((f"find -printf cold ({tk})", ["find", tree, "-printf", FIND_FMT], "other"))
    repeat = max(1, args.repeat // 2)
    cold = []
    for label, argv, kind in cases:
        times, rss = [], 0
        for _ in range(repeat):
            drop_caches()
            s, r, _ = run_timed(argv)
            times.append(s)
            rss = max(rss, r)
        med = statistics.median(times)
        cold.append({"case": label, "tree": tk, "entries": n, "argv": argv, "times_s": times, "median_s": med,
                     "rows_per_s": n / med, "peak_rss_kib": rss, "kind": kind})
    find_rate = cold[-1]["rows_per_s"]
    print(f"{'case':42} {'median s':>9} {'rows/s':>10} {'x find':>10} {'peak RSS':>10}")
    for r in cold:
        r["ratio"] = r["rows_per_s"] / find_rate
        r["ratio_to"] = cold[-1]["case"]
        print(f"{r['case']:42} {r['median_s']:9.3f} {r['rows_per_s'] / 1e6:9.3f}M {r['ratio']:10.2f} "
              f"{r['peak_rss_kib'] / 1024:8.1f}MiB", flush=True)
    return cold


if __name__ == "__main__":
    main()
