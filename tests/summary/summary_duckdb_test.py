"""The summary sink against a brute-force GROUP BY, in DuckDB, over the
lossless csv report of the SAME walk (a csv sink and the summary sink in
one pipeline), and the README's three summary questions run as written.

DuckDB's client is npm's @duckdb/node-api (PyPI is not reachable; the
same install and cache as tests/duckdb: $PWALK_NPM_CACHE, default
/var/tmp/pwalk-npm); duckdb_query.mjs runs the SQL.  Every cell of
users, groups, usage and every directory's recursive totals is recomputed
in SQL from the report's rows: hard links counted once, at the first path
(row_number() over (st_dev, inode) ordered by the raw bytes of the path),
recursion by a path-prefix join.  The tree is summary_tree.py's, scanned
as root without the DAC capabilities (an unreadable directory).
"""

import json
import os
import re
import shutil
import subprocess

import pytest

import summary_tree as T

NPM_VERSION = "@duckdb/node-api@1.5.6-r.1"  # as tests/duckdb/duckdb_test.sh
HERE = os.path.dirname(os.path.realpath(__file__))


def duckdb_cache():
    """Installs DuckDB's client once (npm), returns the directory holding
    node_modules; None when node/npm are missing."""
    if not shutil.which("node") or not shutil.which("npm"):
        return None
    cache = os.environ.get("PWALK_NPM_CACHE", "/var/tmp/pwalk-npm")
    if not os.path.isdir(os.path.join(cache, "node_modules", "@duckdb", "node-api")):
        os.makedirs(cache, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", NPM_VERSION],
                       cwd=cache, check=True, stdout=subprocess.DEVNULL)
    # ESM ignores NODE_PATH: run from a copy beside node_modules
    shutil.copy(os.path.join(HERE, "duckdb_query.mjs"), os.path.join(cache, "summary_query.mjs"))
    return cache


class DuckDB:
    def __init__(self, cache):
        self.script = os.path.join(cache, "summary_query.mjs")

    def run(self, statements):
        """Results of each statement: (columns [(name, type)], rows [dict])."""
        r = subprocess.run(["node", self.script], input=json.dumps(statements).encode(),
                           capture_output=True, timeout=600)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        out = json.loads(r.stdout)
        for i, res in enumerate(out):
            assert "error" not in res, "%s\n-- in --\n%s" % (res["error"], statements[i])
        return [([tuple(c) for c in res["columns"]], res["rows"]) for res in out]


@pytest.fixture(scope="module")
def duck():
    cache = duckdb_cache()
    if cache is None:
        pytest.skip("node and npm are needed for DuckDB's client (@duckdb/node-api)")
    return DuckDB(cache)


@pytest.fixture(scope="module")
def walk():
    """One scan of the tree with a csv sink and the summary sink."""
    reason = T.can_drop_caps()
    if reason:
        pytest.skip(reason)
    work = T.scratch("duckdb")
    facts = T.build(os.path.join(work, "tree"))
    out = os.path.join(work, "sum")
    report = os.path.join(work, "scan.csv")
    cfg = T.pipeline(os.path.join(work, "p.yaml"), facts,
                     "dir: %s, print: false, top: 5" % T.yaml_str(out), 2, csv_path=report)
    r = T.run_engine(["-q", "-c", cfg, facts["root"]])
    assert r.returncode == 1, r.stderr.decode(errors="replace")  # the unreadable directory
    with open(os.path.join(out, "summary.json")) as f:
        meta = json.load(f)
    # the order of the raw bytes of every path (DuckDB compares the escaped
    # text, whose order differs where bytes are escaped): a side table
    with open(report, newline="") as f:
        names = [row[3] for row in T.read_csv_text(f.read())[1:]]
    order = os.path.join(work, "order.csv")
    with open(order, "w", newline="") as f:
        f.write("filename,raw_rank\n")
        for i, n in enumerate(sorted(names, key=T.unescape)):
            f.write('"%s",%d\n' % (n.replace('"', '""'), i))
    yield {"facts": facts, "out": out, "report": report, "order": order, "meta": meta}
    T.remove(work)


def q(s):
    return "'" + s.replace("'", "''") + "'"


def setup_sql(w):
    """The report as table r (one row per entry), c (the entries that count:
    hard links deduplicated) and the summary's tables as s_<name>."""
    m = w["meta"]
    start = m["start_time"]
    root = T.escape(os.fsencode(w["facts"]["root"]))
    ages = "[0, %s]" % ", ".join(str(a) for a in m["age_days"])
    sizes = "[%s]" % ", ".join(str(s) for s in m["size_classes"])
    sql = [
        "CREATE TABLE r AS SELECT *, st_mode LIKE '004%%' AS isdir FROM read_csv(%s)" % q(w["report"]),
        "CREATE TABLE o AS SELECT * FROM read_csv(%s)" % q(w["order"]),
        # hard links: a non-directory with st_nlink > 1 counts at its first path
        """CREATE TABLE c AS SELECT r.* FROM r JOIN o USING (filename)
           QUALIFY isdir OR st_nlink = 1
                OR row_number() OVER (PARTITION BY st_dev, inode, isdir ORDER BY raw_rank) = 1""",
        """CREATE MACRO bucket(t) AS list_max(list_filter(%s,
               b -> b <= greatest(0, floor((%d - t) / 86400)::BIGINT)))""" % (ages, start),
        "CREATE MACRO size_min(s) AS list_max(list_filter(%s, x -> x <= s))" % sizes,
        """CREATE MACRO top_of(f, depth, isdir) AS CASE
               WHEN depth < 0 OR (depth = 0 AND NOT isdir) THEN '.'
               ELSE split_part(f[%d:], '/', 1) END""" % (len(root) + 2),
    ]
    for name in T.TABLES:
        sql.append("CREATE TABLE s_%s AS SELECT * FROM read_csv(%s)"
                   % (name, q(os.path.join(w["out"], m["tables"][name]["file"]))))
    return sql


EXPECTED = {
    "users": """SELECT UID AS uid, count(*) FILTER (NOT isdir) AS files,
                  count(*) FILTER (isdir) AS dirs, sum(st_size) AS bytes,
                  sum(st_blocks * 512) AS allocated, max(st_mtime) AS newest_mtime,
                  min(st_atime) AS oldest_atime
                FROM c GROUP BY ALL""",
    "groups": """SELECT GID AS gid, count(*) FILTER (NOT isdir) AS files,
                  count(*) FILTER (isdir) AS dirs, sum(st_size) AS bytes,
                  sum(st_blocks * 512) AS allocated
                FROM c GROUP BY ALL""",
    "usage": """SELECT UID AS uid, GID AS gid, top_of(filename, "directory-depth", isdir) AS top,
                  bucket(st_mtime) AS mtime_age_days, bucket(st_atime) AS atime_age_days,
                  bucket(st_ctime) AS ctime_age_days, size_min(st_size) AS size_min,
                  count(*) FILTER (NOT isdir) AS files, count(*) FILTER (isdir) AS dirs,
                  sum(st_size) AS bytes, sum(st_blocks * 512) AS allocated
                FROM c GROUP BY ALL""",
    # recursive: the directory itself and every entry whose path has its path
    # and a slash as prefix
    "dirs": """SELECT d.filename AS path, d."directory-depth" AS depth, d.st_dev AS dev,
                  d.inode AS inode, d.UID AS uid, d.GID AS gid,
                  count(*) FILTER (NOT e.isdir) AS files,
                  count(*) FILTER (e.isdir AND e.filename <> d.filename) AS dirs,
                  sum(e.st_size) AS bytes, sum(e.st_blocks * 512) AS allocated,
                  max(e.st_mtime) AS newest_mtime, max(e.st_atime) AS newest_atime,
                  min(e.st_mtime) AS oldest_mtime,
                  coalesce(sum(e.st_size) FILTER (bucket(e.st_mtime) >= %(last)d), 0)
                    AS stale_bytes
                FROM r AS d JOIN c AS e
                  ON e.filename = d.filename OR starts_with(e.filename, d.filename || '/')
                WHERE d.isdir GROUP BY ALL""",
}
COLUMNS = {
    "users": "uid, files, dirs, bytes, allocated, newest_mtime, oldest_atime",
    "groups": "gid, files, dirs, bytes, allocated",
    "usage": "uid, gid, top, mtime_age_days, atime_age_days, ctime_age_days, size_min, "
             "files, dirs, bytes, allocated",
    "dirs": "path, depth, dev, inode, uid, gid, files, dirs, bytes, allocated, newest_mtime, "
            "newest_atime, oldest_mtime, stale_bytes",
}


@pytest.mark.parametrize("name", ["users", "groups", "usage", "dirs"])
def test_every_cell_equals_the_group_by_over_the_report(duck, walk, name):
    m = walk["meta"]
    sql = EXPECTED[name] % {"last": m["age_days"][-1]}
    cols = COLUMNS[name]
    res = duck.run(setup_sql(walk) + [
        "CREATE TABLE want AS " + sql,
        "SELECT count(*) AS n FROM want",
        "SELECT count(*) AS n FROM s_%s" % name,
        # every row of one not in the other, both ways (EXCEPT ALL: counts too)
        "SELECT 'missing' AS side, * FROM (SELECT %s FROM want EXCEPT ALL SELECT %s FROM s_%s) "
        "UNION ALL SELECT 'extra', * FROM (SELECT %s FROM s_%s EXCEPT ALL SELECT %s FROM want) "
        "LIMIT 10" % (cols, cols, name, cols, name, cols),
    ])
    nwant, ngot, delta = res[-3][1][0]["n"], res[-2][1][0]["n"], res[-1][1]
    assert int(nwant) > 3 and int(ngot) == int(nwant), (ngot, nwant)
    assert delta == [], json.dumps(delta, indent=1)
    assert int(ngot) == m["tables"][name]["rows"]


def test_tables_read_by_duckdb_with_typed_columns(duck, walk):
    res = duck.run(setup_sql(walk) + ["DESCRIBE s_%s" % n for n in T.TABLES])
    for name, (cols, rows) in zip(T.TABLES, res[-len(T.TABLES):]):
        got = [r["column_name"] for r in rows]
        assert got == T.HEADERS[name], name
        for r in rows:
            text = r["column_name"] in ("path", "top", "user", "group", "ranked_by")
            boolean = r["column_name"] == "orphan"
            want = "VARCHAR" if text else "BOOLEAN" if boolean else "INT"
            assert want in r["column_type"], (name, r)


def test_users_and_groups_names_and_orphans(duck, walk):
    res = duck.run(setup_sql(walk) + ["SELECT uid, user, orphan FROM s_users",
                                      "SELECT gid, \"group\", orphan FROM s_groups"])
    for rows, key, db in ((res[-2][1], "uid", "passwd"), (res[-1][1], "gid", "group")):
        assert len(rows) >= 3
        for row in rows:
            g = subprocess.run(["getent", db, str(row[key])], capture_output=True, text=True)
            name = g.stdout.split(":")[0] if g.returncode == 0 else ""
            assert (row["user" if key == "uid" else "group"] or "") == name, row
            assert row["orphan"] is (g.returncode != 0), row
    f = walk["facts"]
    assert any(int(r["uid"]) == f["orphan_uid"] and r["orphan"] for r in res[-2][1])
    assert any(int(r["gid"]) == f["orphan_gid"] and r["orphan"] for r in res[-1][1])


def test_cube_sums_to_the_totals(duck, walk):
    t = walk["meta"]["totals"]
    sums = "sum(files) AS files, sum(dirs) AS dirs, sum(bytes) AS bytes, sum(allocated) AS allocated"
    res = duck.run(setup_sql(walk) + [
        "SELECT %s FROM s_%s" % (sums, n) for n in ("usage", "users", "groups")] + [
        "SELECT files, dirs + 1 AS dirs, bytes, allocated FROM s_dirs WHERE depth = -1",
        "SELECT count(*) FILTER (NOT isdir) AS files, count(*) FILTER (isdir) AS dirs, "
        "sum(st_size) AS bytes, sum(st_blocks * 512) AS allocated FROM c"])
    want = {k: int(v) for k, v in t.items()}
    for (_, rows) in res[-5:]:
        assert len(rows) == 1
        assert {k: int(v) for k, v in rows[0].items()} == want


def test_top_ranks_the_directories(duck, walk):
    # from the GROUP BY's directories, not the summary's own dirs.csv
    res = duck.run(setup_sql(walk) + [
        "CREATE TABLE want_dirs AS " + EXPECTED["dirs"] % {"last": walk["meta"]["age_days"][-1]},
        """CREATE TABLE want AS
           WITH v AS (SELECT b.by AS ranked_by, d.*, o.raw_rank,
                        CASE b.by WHEN 'bytes' THEN d.bytes WHEN 'files' THEN d.files
                             ELSE d.stale_bytes END AS v
                      FROM (SELECT unnest(['bytes', 'files', 'stale_bytes']) AS by) AS b
                      CROSS JOIN want_dirs AS d JOIN o ON o.filename = d.path)
           SELECT ranked_by, row_number() OVER (PARTITION BY ranked_by
                                                ORDER BY v DESC, raw_rank) AS rank,
                  path, files, dirs, bytes, allocated, stale_bytes
           FROM v WHERE v > 0 QUALIFY rank <= 5""",
        "SELECT * FROM want ORDER BY list_position(['bytes', 'files', 'stale_bytes'], "
        "ranked_by), rank",
        "SELECT * FROM s_top",
    ])
    want, got = res[-2][1], res[-1][1]
    assert len(want) == 15  # 5 for each, so the cut at top: 5 is tested
    assert got == want
    assert walk["meta"]["tables"]["top"]["rows"] == 15


# ---- the README's questions ---------------------------------------------------

MARK = re.compile(r"<!--\s*summary-query:\s*([\w-]+)\s*-->\s*```sql\n(.*?)```", re.S)


def readme_queries():
    p = T.built("README.md") or os.path.join(HERE, "..", "..", "README.md")
    with open(p) as f:
        return {k: v.strip().rstrip(";") for k, v in MARK.findall(f.read())}


def run_readme(duck, walk, key, subst=None):
    queries = readme_queries()
    if key not in queries:
        pytest.fail("README.md has no ```sql block marked <!-- summary-query: %s --> "
                    "(found: %s)" % (key, sorted(queries)))
    sql = queries[key].replace("'summary/", "'" + walk["out"] + "/")
    if subst:
        sql = subst(sql)
    cols, rows = duck.run([sql])[0]
    return [c[0] for c in cols], rows


def model(walk):
    f = walk["facts"]
    return T.model(f["root"], walk["meta"]["start_time"], f["excluded"], f["unreadable"])[0]


def per_uid(rows, cond):
    """{uid: [bytes, allocated]} over the model's cube cells where cond."""
    h = rows[0]
    out = {}
    for r in rows[1:]:
        cell = dict(zip(h, r))
        if cond(cell):
            s = out.setdefault(int(cell["uid"]), [0, 0])
            s[0] += int(cell["bytes"])
            s[1] += int(cell["allocated"])
    return out


def check_per_uid(cols, rows, want, ordered):
    assert "uid" in cols and ("bytes" in cols or "allocated" in cols), cols
    got = [(int(r["uid"]), r) for r in rows]
    assert sorted(u for u, _ in got) == sorted(want), (got, want)
    for which, i in (("bytes", 0), ("allocated", 1)):
        if which in cols:
            assert {u: int(r[which]) for u, r in got} == {u: v[i] for u, v in want.items()}
            if ordered:
                vals = [int(r[which]) for _, r in got]
                assert vals == sorted(vals, reverse=True), vals


def test_readme_who_used_the_most_space_created_in_the_last_7_days(duck, walk):
    cols, rows = run_readme(duck, walk, "recent-space")
    # every entry was created (ctime) when the tree was built: all of them
    want = per_uid(model(walk)["usage"], lambda c: c["ctime_age_days"] == "0")
    check_per_uid(cols, rows, want, ordered=True)
    # the uid owning the sparse terabyte file comes first by bytes
    if "bytes" in cols:
        assert int(rows[0]["uid"]) == walk["facts"]["uids"][1]


@pytest.mark.parametrize("n", [0, 9, 40])
def test_readme_directories_with_more_than_n_files(duck, walk, n):
    def subst(sql):
        assert len(re.findall(r"files\s*>\s*\d+", sql)) == 1, sql
        return re.sub(r"(files\s*>\s*)\d+", lambda m: m.group(1) + str(n), sql)
    cols, rows = run_readme(duck, walk, "many-files", subst)
    assert "path" in cols, cols
    h = model(walk)["dirs"]
    want = sorted(r[0] for r in h[1:] if int(r[h[0].index("files")]) > n)
    assert sorted(r["path"] for r in rows) == want
    assert want  # the check means something at this n


def test_readme_data_not_modified_in_two_years_per_user(duck, walk):
    cols, rows = run_readme(duck, walk, "stale-per-user")
    want = per_uid(model(walk)["usage"], lambda c: int(c["mtime_age_days"]) >= 730)
    assert len(want) >= 2
    check_per_uid(cols, rows, want, ordered=False)
