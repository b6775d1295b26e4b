#!/usr/bin/env python3
"""The benchmark's pwalk-diff case (issue 16): pwalk-diff against DuckDB's
FULL OUTER JOIN on (st_dev, inode) of the same two .csv.zst reports
(diff_duckdb.mjs, DuckDB's node client from npm as tests/duckdb uses), at
1M and 5M rows; time and peak RSS (GNU time), and a check that both give
the same per-user totals.  The report pairs come from
tests/diff/genreport (synthetic: 1% of the files removed, grown, renamed,
chmod-ed, chowned, and 1% new), made once under --dir.

    bazel build //:pwalk-diff //tests/diff:genreport
    python3 tests/bench/diffbench.py [--rows 1000000,5000000] [--repeat N] [--threads N]

run.py runs it too (after the scan cases; --diff-rows '' leaves it out).
Both tools get the same thread count; pwalk-diff its default --memory
(1G), DuckDB its default memory limit; pwalk-diff runs a third time under
--memory 64M (the bound the scale test checks).  Not a pass/fail test: a
disagreement is printed as a WARNING and recorded in the results.
"""
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
NPM_CACHE = os.environ.get("PWALK_NPM_CACHE", "/var/tmp/pwalk-npm")
DUCKDB_PKG = "@duckdb/node-api@1.5.6-r.1"  # the version tests/duckdb pins


def rows_list(text):
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of row counts: {text!r}")
    if any(v < 10000 for v in vals):
        raise argparse.ArgumentTypeError(f"row counts must be >= 10000: {text!r}")
    return vals


def label(n):
    return f"{n // 1000000}M" if n % 1000000 == 0 else f"{n // 1000}k"


def timed(argv, env=None):
    """(seconds, peak RSS KiB, stdout, CPU seconds user+sys) of argv under GNU time."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", rss.name] + argv,
                           capture_output=True, env=env)
        s = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited {p.returncode}: "
                               f"{p.stderr.decode(errors='replace').strip()[-400:]}")
        last = (rss.read().strip().splitlines() or [""])[-1].split()
    if len(last) != 3:
        return s, 0, p.stdout, 0.0
    return s, int(last[2]), p.stdout, float(last[0]) + float(last[1])


def duckdb_script():
    """diff_duckdb.mjs beside the node_modules holding DuckDB's client
    (installed there first if missing), or None without node/npm."""
    if not shutil.which("node"):
        return None
    if not os.path.isdir(os.path.join(NPM_CACHE, "node_modules", "@duckdb", "node-api")):
        if not shutil.which("npm"):
            return None
        os.makedirs(NPM_CACHE, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", DUCKDB_PKG], cwd=NPM_CACHE,
                       check=True, stdout=subprocess.DEVNULL)
    dst = os.path.join(NPM_CACHE, "diff_duckdb.mjs")
    shutil.copy(os.path.join(HERE, "diff_duckdb.mjs"), dst)
    return dst


def make_pair(genreport, workdir, n):
    old = os.path.join(workdir, f"diff-{n}-old.csv.zst")
    new = os.path.join(workdir, f"diff-{n}-new.csv.zst")
    if not (os.path.exists(old) and os.path.exists(new)):
        print(f"building the {label(n)}-row report pair ...", flush=True)
        subprocess.run([genreport, old + ".tmp", new + ".tmp", str(n)], check=True,
                       stdout=subprocess.DEVNULL)
        os.rename(old + ".tmp", old)
        os.rename(new + ".tmp", new)
    return old, new


def by_user_of(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [[int(r["uid"]), int(r["files_added"]), int(r["files_removed"]),
                 int(r["bytes_added"]), int(r["bytes_removed"])] for r in csv.DictReader(f)]


def run(bin_dir, workdir, rows, repeat, threads):
    """Every size: both tools --repeat times, interleaved; returns a list
    of result dicts (one per size) or [] when a tool is missing."""
    diff = os.path.join(bin_dir, "pwalk-diff")
    genreport = os.path.join(bin_dir, "tests", "diff", "genreport")
    for exe in (diff, genreport):
        if not os.access(exe, os.X_OK):
            print(f"diff: skipped ({exe} missing: bazel build //:pwalk-diff //tests/diff:genreport)")
            return []
    script = duckdb_script()
    if script is None:
        print("diff: skipped (node/npm not found: DuckDB's client comes from npm)")
        return []
    env = dict(os.environ, NODE_PATH=os.path.join(NPM_CACHE, "node_modules"))
    results = []
    tmp = tempfile.mkdtemp(prefix="pwalk-diffbench-", dir=workdir)
    try:
        for n in rows:
            old, new = make_pair(genreport, workdir, n)
            pd_out, dd_out = os.path.join(tmp, "pd"), os.path.join(tmp, "dd")
            os.makedirs(dd_out, exist_ok=True)
            cases = {"pwalk-diff": [diff, old, new, "-o", pd_out, "-q", "--threads", str(threads)],
                     "duckdb": ["node", script, old, new, dd_out, str(threads)],
                     # the bounded-memory case the scale test checks
                     "pwalk-diff-64m": [diff, old, new, "-o", pd_out + "64", "-q", "--threads",
                                        str(threads), "--memory", "64M"]}
            times = {k: [] for k in cases}
            cpu = {k: [] for k in cases}
            rss = {k: 0 for k in cases}
            out = {}
            for rnd in range(repeat + 1):  # round 0 warms the page cache, untimed
                for k, argv in cases.items():
                    os.sync()
                    s, r, so, c = timed(argv, env=env if k == "duckdb" else None)
                    out[k] = so
                    if rnd:
                        times[k].append(s)
                        cpu[k].append(c)
                        rss[k] = max(rss[k], r)
            ours = by_user_of(os.path.join(pd_out, "by_user.csv"))
            theirs = json.loads(out["duckdb"])["by_user"]
            agree = ours == theirs == by_user_of(os.path.join(pd_out + "64", "by_user.csv"))
            res = {"rows": n, "threads": threads, "repeat": repeat, "agree": agree,
                   "pwalk_diff_s": statistics.median(times["pwalk-diff"]),
                   "duckdb_s": statistics.median(times["duckdb"]),
                   "pwalk_diff_rss_kib": rss["pwalk-diff"], "duckdb_rss_kib": rss["duckdb"],
                   "pwalk_diff_64m_s": statistics.median(times["pwalk-diff-64m"]),
                   "pwalk_diff_64m_rss_kib": rss["pwalk-diff-64m"], "times": times,
                   "cpu": cpu, "pwalk_diff_cpu_s": statistics.median(cpu["pwalk-diff"]),
                   "duckdb_cpu_s": statistics.median(cpu["duckdb"]),
                   "pwalk_diff_64m_cpu_s": statistics.median(cpu["pwalk-diff-64m"]),
                   # per round: each tool against DuckDB timed in the same round (load
                   # from elsewhere falls on both alike)
                   "round_speedups": [d / p for d, p in zip(times["duckdb"], times["pwalk-diff"])]}
            res["speedup"] = res["duckdb_s"] / res["pwalk_diff_s"]
            res["cpu_ratio"] = res["duckdb_cpu_s"] / max(res["pwalk_diff_cpu_s"], 1e-9)
            res["rss_ratio"] = res["pwalk_diff_rss_kib"] / max(res["duckdb_rss_kib"], 1)
            results.append(res)
            print(f"diff {label(n)} rows: pwalk-diff {res['pwalk_diff_s']:.2f} s "
                  f"{res['pwalk_diff_rss_kib'] / 1024:.0f} MiB, DuckDB FULL OUTER JOIN "
                  f"{res['duckdb_s']:.2f} s {res['duckdb_rss_kib'] / 1024:.0f} MiB: "
                  f"{res['speedup']:.2f}x faster ({res['cpu_ratio']:.2f}x less CPU: "
                  f"{res['pwalk_diff_cpu_s']:.1f} vs {res['duckdb_cpu_s']:.1f} s), "
                  f"{res['rss_ratio']:.2f}x the memory; per-user "
                  f"totals {'agree' if agree else 'DIFFER'}; pwalk-diff --memory 64M "
                  f"{res['pwalk_diff_64m_s']:.2f} s {res['pwalk_diff_64m_rss_kib'] / 1024:.0f} MiB",
                  flush=True)
            if not agree:
                print(f"  WARNING: by_user differs:\n  pwalk-diff {ours}\n  duckdb     {theirs}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def markdown(results):
    if not results:
        return []
    md = ["", f"pwalk-diff against DuckDB's FULL OUTER JOIN on (st_dev, inode) of two .csv.zst "
          f"reports ({results[0]['threads']} threads each, median of {results[0]['repeat']}):",
          "", "| rows | pwalk-diff s (CPU s) | DuckDB s (CPU s) | speed x DuckDB | DuckDB CPU / ours | "
          "pwalk-diff RSS MiB | DuckDB RSS MiB | RSS x DuckDB | --memory 64M s / RSS MiB | "
          "per-user totals |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        md.append(f"| {label(r['rows'])} | {r['pwalk_diff_s']:.2f} ({r['pwalk_diff_cpu_s']:.1f}) | "
                  f"{r['duckdb_s']:.2f} ({r['duckdb_cpu_s']:.1f}) | {r['speedup']:.2f} | "
                  f"{r['cpu_ratio']:.2f} | {r['pwalk_diff_rss_kib'] / 1024:.0f} | "
                  f"{r['duckdb_rss_kib'] / 1024:.0f} | {r['rss_ratio']:.2f} | "
                  f"{r['pwalk_diff_64m_s']:.2f} / {r['pwalk_diff_64m_rss_kib'] / 1024:.0f} | "
                  f"{'agree' if r['agree'] else 'DIFFER'} |")
    return md


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="/var/tmp/pwalk-bench", help="where the report pairs live")
    ap.add_argument("--rows", type=rows_list, default=[1000000, 5000000], metavar="N,N,...")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    results = run(os.environ.get("PWALK_BIN", os.path.join(REPO, "bazel-bin")), args.dir,
                  args.rows, args.repeat, args.threads)
    print("\n".join(markdown(results)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return 0 if all(r["agree"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
