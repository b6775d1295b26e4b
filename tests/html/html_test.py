"""The html sink (issue 17) in a real browser: Debian's chromium, headless
and offline, loads the page through the DevTools protocol (cdp.py, over a
pipe) and the tests read what the page shows.

- every number shown equals summary.json and the tables of a summary sink
  in the same walk (facts, totals, users, groups, the age histogram, the
  three top-directory rankings, the treemap's cells, also after a click);
- no request leaves the page (and the check does see one that does: a
  control page with an image on the network), no dialog opens, no script
  error, no Content-Security-Policy report;
- hostile names (<img onerror>, <script>, invalid UTF-8, U+2028, quotes,
  ampersands) are text: shown as their lossless text, no element made of
  them, no script run;
- 100,000 directories give a page of a few MB with at most max_children
  subdirectories per directory, drawn in under 2 s;
- bad options exit 2 with nothing written.

A screenshot of each page is kept in $TEST_UNDECLARED_OUTPUTS_DIR.  The
engine runs as root without the DAC capabilities (setpriv), like the
summary's tests; everything skips, with the reason, without root or
without chromium.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "summary"))
import cdp  # noqa: E402
import summary_tree as T  # noqa: E402

# Directory names that are markup, script, or not text at all.  A name
# cannot hold '/', so "<script>...</script>" is a directory in a directory.
HOSTILE = [
    b"<img src=x onerror=alert(1)>",
    b"<script>window.__pwned=1;alert(2)<",
    b"<script>window.__pwned=1;alert(2)</script>",
    b"bad\xff\xfe utf8",
    b"sep\xe2\x80\xa8line\xe2\x80\xa9para",
    b"amp &amp; &lt;b&gt; \"q\" 'q' `q`",
    b"back\\slash \\x41 \\u003c",
    b"--><!--<svg onload=alert(3)>",
]


def artifact(name, data):
    out = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
    if out:
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def skip_reason():
    return T.can_drop_caps() or (None if cdp.chromium_path() else
                                 "chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def work():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    d = T.scratch("html")
    yield d
    T.remove(d)


def add_hostile(root):
    """The hostile directories, each with a big sparse file so that they
    rank among the top directories."""
    for i, name in enumerate(HOSTILE):
        d = os.path.join(os.fsencode(root), name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, b"f" + name.split(b"/")[-1][:20]), "wb") as f:
            f.truncate(50_000_000 + i)


def run(work, tag, root, html_opts="", summary=True, threads=2, exclude=(), status=0):
    """pwalk-engine with the html sink (and a summary sink) over root;
    returns (page path, summary dir, stderr)."""
    page = os.path.join(work, tag + ".html")
    out = os.path.join(work, tag + "-summary")
    lines = ["version: 1", "scan:", "  threads: %d" % threads]
    if exclude:
        lines.append("  exclude: [%s]" % ", ".join(T.yaml_str(x) for x in exclude))
    lines.append("sinks:")
    if summary:
        lines.append("  - {name: sum, plugin: summary, options: {dir: %s, print: false}}"
                     % T.yaml_str(out))
    lines.append("  - {name: page, plugin: html, options: {path: %s%s}}"
                 % (T.yaml_str(page), html_opts))
    cfg = os.path.join(work, tag + ".yaml")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = T.run_engine(["-q", "-c", cfg, root])
    err = r.stderr.decode(errors="replace")
    assert r.returncode == status, err
    return page, out, err


# Everything the page shows, read back from the DOM in one evaluation.
READ_DOM = r"""(() => {
  const all = (root, sel) => Array.from(root.querySelectorAll(sel));
  const cells = tr => { const o = {}; all(tr, "td").forEach(td => {
      o[td.dataset.k] = td.dataset.v !== undefined ? td.dataset.v : td.textContent; });
    return o; };
  const facts = {}; all(document, "#facts td").forEach(td => {
    facts[td.dataset.k] = td.dataset.v !== undefined ? td.dataset.v : td.textContent; });
  const owners = sel => all(document, sel + " tbody tr").map(tr =>
    Object.assign(cells(tr), {id: tr.dataset.id}));
  const ages = all(document, "#ages tbody tr").map(tr =>
    Object.assign(cells(tr), {age: tr.dataset.age}));
  const top = {}, select = document.getElementById("top-by");
  Array.from(select.options).forEach(o => {
    select.value = o.value; select.dispatchEvent(new Event("change"));
    top[o.value] = all(document, "#top tbody tr").map(cells); });
  select.value = select.options[0].value; select.dispatchEvent(new Event("change"));
  return {facts, users: owners("#users"), groups: owners("#groups"), ages, top,
          title: document.getElementById("title").textContent,
          imgs: all(document, "img, iframe, object, embed").length,
          scripts: all(document, "script").length,
          svgs_with_onload: all(document, "[onload], [onerror]").length,
          pwned: window.__pwned === undefined ? null : String(window.__pwned),
          report: window.pwalkReport};
})()"""

READ_TREE = r"""(() => ({
  current: document.getElementById("current-path").textContent,
  cells: Array.from(document.querySelectorAll("#treemap g.top")).map(g => ({
    path: g.dataset.path, bytes: g.dataset.bytes, dir: g.classList.contains("dir"),
    label: (g.querySelector("text") || {}).textContent,
    title: g.querySelector("title").textContent}))}))()"""


def load(work, page_path, shot):
    """The page in chromium: (page object, DOM readout, tree readout)."""
    with cdp.Browser(os.path.join(work, "browser-" + shot)) as b:
        page = b.open("file://" + page_path)
        page.wait_for("document.body.dataset.rendered", 20)
        dom = page.eval(READ_DOM)
        tree = page.eval(READ_TREE)
        png = page.screenshot()
        artifact(shot + ".png", png)
        # drill down: the largest directory cell, then its cells
        page.eval("document.querySelector('#treemap g.dir').dispatchEvent("
                  "new MouseEvent('click', {bubbles: true}))")
        inner = page.eval(READ_TREE)
        page.eval(READ_DOM)  # events of the second readout land too
        return page, dom, tree, inner, png


def table(out, name):
    rows = T.read_table(os.path.join(out, name + ".csv"))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


@pytest.fixture(scope="module")
def scanned(work):
    facts = T.build(os.path.join(work, "tree"))
    add_hostile(facts["root"])
    page, out, _ = run(work, "full", facts["root"], ", title: '<b>Audit</b> & co'",
                       exclude=facts["excluded"], status=1)  # the unreadable directory
    with open(os.path.join(out, "summary.json")) as f:
        meta = json.load(f)
    p, dom, tree, inner, png = load(work, page, "report")
    return {"facts": facts, "page": page, "out": out, "meta": meta, "browser": p,
            "dom": dom, "tree": tree, "inner": inner, "png": png}


def test_facts_and_totals_equal_summary_json(scanned):
    meta, shown = scanned["meta"], scanned["dom"]["facts"]
    for k in ("entries", "errors", "filtered", "threads", "ranks", "start_time", "end_time",
              "sessions"):
        assert shown[k] == str(meta[k]), k
    for k in ("files", "dirs", "bytes", "allocated"):
        assert shown[k] == str(meta["totals"][k]), k
    assert meta["errors"] >= 1 and meta["filtered"] >= 1  # the tree has both
    assert shown["roots"] == "  ".join(meta["roots"])
    assert shown["hostname"] == meta["hostname"]
    assert scanned["dom"]["title"] == "<b>Audit</b> & co"


def test_users_and_groups_equal_the_tables(scanned):
    out, dom = scanned["out"], scanned["dom"]
    total = scanned["meta"]["totals"]["bytes"]
    for kind, key, name in (("users", "uid", "user"), ("groups", "gid", "group")):
        want = {r[key]: r for r in table(out, kind)}
        got = {r["id"]: r for r in dom[kind]}
        assert set(got) == set(want), kind
        for i, w in want.items():
            g = got[i]
            cols = ["files", "dirs", "bytes", "allocated"]
            cols += ["newest_mtime", "oldest_atime"] if kind == "users" else []
            for c in cols:
                assert g[c] == w[c], (kind, i, c)
            assert g["name"] == (w[name] if w["orphan"] == "false" else "(no account)")
            assert g["share"] == w["bytes"]
        # largest first
        assert [int(r["bytes"]) for r in dom[kind]] == sorted(
            (int(r["bytes"]) for r in dom[kind]), reverse=True)
        assert sum(int(r["bytes"]) for r in dom[kind]) == total


def test_age_histogram_equals_usage_csv(scanned):
    usage = table(scanned["out"], "usage")
    for kind in ("mtime", "atime"):
        files, nbytes = {}, {}
        for r in usage:
            a = r[kind + "_age_days"]
            files[a] = files.get(a, 0) + int(r["files"])
            nbytes[a] = nbytes.get(a, 0) + int(r["bytes"])
        for row in scanned["dom"]["ages"]:
            assert int(row[kind + "_files"]) == files.get(row["age"], 0), (kind, row)
            assert int(row[kind + "_bytes"]) == nbytes.get(row["age"], 0), (kind, row)
        assert sum(int(r[kind + "_bytes"]) for r in scanned["dom"]["ages"]) == \
            scanned["meta"]["totals"]["bytes"]
    assert [r["age"] for r in scanned["dom"]["ages"]] == ["0"] + [
        str(a) for a in scanned["meta"]["age_days"]]


def test_top_directories_equal_top_csv(scanned):
    top = table(scanned["out"], "top")
    for by in ("bytes", "files", "stale_bytes"):
        want = [(r["path"], r["bytes"], r["files"], r["dirs"], r["stale_bytes"])
                for r in top if r["ranked_by"] == by]
        got = [(r["path"], r["bytes"], r["files"], r["dirs"], r["stale_bytes"])
               for r in scanned["dom"]["top"][by]]
        assert got == want, by
        assert got, by


def check_cells(view, dirs, current):
    """Each directory cell's bytes are its dirs.csv row's; with the grey
    "(files here ...)" cell they add up to the directory shown."""
    real = [c for c in view["cells"] if c["title"].split("\n")[0] == c["path"]]
    assert real and len(view["cells"]) - len(real) <= 1
    for c in real:
        assert c["bytes"] == dirs[c["path"]]["bytes"], c["path"]
        assert c["path"].rsplit("/", 1)[0] == current
    assert sum(int(c["bytes"]) for c in view["cells"]) == int(dirs[current]["bytes"])


def test_treemap_cells_equal_dirs_csv(scanned):
    dirs = {r["path"]: r for r in table(scanned["out"], "dirs")}
    root = T.escape(os.fsencode(scanned["facts"]["root"]))
    assert scanned["tree"]["current"] == root
    check_cells(scanned["tree"], dirs, root)
    # the click opened the largest directory of the root
    biggest = max((c for c in scanned["tree"]["cells"] if c["dir"]),
                  key=lambda c: int(c["bytes"]))
    assert scanned["inner"]["current"] == biggest["path"].rsplit("/", 1)[-1]
    check_cells(scanned["inner"], dirs, biggest["path"])


def test_hostile_names_are_text(scanned):
    dom, root = scanned["dom"], os.fsencode(scanned["facts"]["root"])
    assert dom["pwned"] is None
    assert dom["imgs"] == 0 and dom["svgs_with_onload"] == 0
    assert dom["scripts"] == 3  # the data, d3, the report
    shown = {r["path"] for r in dom["top"]["bytes"]} | {
        c["path"] for c in scanned["tree"]["cells"]}
    for name in HOSTILE:
        want = T.escape(root + b"/" + name)
        assert want in shown, want
    labels = " ".join(c["title"] for c in scanned["tree"]["cells"])
    assert "<img src=x onerror=alert(1)>" in labels
    assert "bad\\xff\\xfe utf8" in labels
    assert "sep\u2028line\u2029para" in labels
    page = scanned["browser"]
    assert page.dialogs == []
    assert page.exceptions == []
    assert not [line for line in page.logs if "Content Security Policy" in line], page.logs


def test_embedded_json_cannot_end_its_element(scanned):
    with open(scanned["page"], "rb") as f:
        html = f.read()
    start = html.index(b'<script type="application/json" id="pwalk-data">') + 48
    end = html.index(b"</script>", start)
    data = html[start:end]
    for bad in (b"<", b">", b"&", b"\xe2\x80\xa8", b"\xe2\x80\xa9"):
        assert bad not in data, bad
    doc = json.loads(data)
    names = json.dumps(doc["top"]["bytes"], ensure_ascii=False)
    assert "<img src=x onerror=alert(1)>" in names
    data.decode("utf-8")  # valid UTF-8 whatever the names' bytes


def test_no_request_leaves_the_page(scanned):
    page = scanned["browser"]
    assert page.requests == ["file://" + scanned["page"]]
    assert scanned["dom"]["report"]["ok"] is True


def test_the_request_check_sees_a_request(work):
    """The control: a page that does reach for the network is caught."""
    p = os.path.join(work, "leaky.html")
    with open(p, "w") as f:
        f.write('<!DOCTYPE html><title>x</title><img src="http://pwalk.invalid/x.png">'
                '<script>fetch("https://pwalk.invalid/y").catch(() => 0);'
                'document.body.dataset.rendered = 1;</script>')
    with cdp.Browser(os.path.join(work, "browser-leaky")) as b:
        page = b.open("file://" + p)
        page.wait_for("document.body.dataset.rendered")
        b.pump(0.5)
        leaving = [u for u in page.requests if not u.startswith("file:")]
    assert "http://pwalk.invalid/x.png" in leaving and "https://pwalk.invalid/y" in leaving


def test_renders_in_under_two_seconds_and_keeps_a_screenshot(scanned):
    assert scanned["dom"]["report"]["renderMs"] < 2000
    assert scanned["dom"]["report"]["loadedMs"] < 2000
    png = scanned["png"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000


def make_wide(root, tops=100, subs=1000):
    """tops * subs directories (+ the tops), one sized file in some."""
    os.mkdir(root)
    for t in range(tops):
        top = os.path.join(root, "t%03d" % t)
        os.mkdir(top)
        for s in range(subs):
            d = os.path.join(top, "s%04d" % s)
            os.mkdir(d)
            if s % 10 == 0:
                with open(os.path.join(d, "f"), "wb") as f:
                    f.truncate((t + 1) * 1000 + s)


def tree_nodes(node, level=0):
    yield node, level
    for c in node.get("c", []):
        yield from tree_nodes(c, level + 1)


def test_100k_directories_stay_bounded(work):
    # 100 x 1000 directories; 20 x 1000 in a sanitizer build (.bazelrc sets
    # their options), where the walk alone would take minutes
    tops = 20 if os.environ.get("TSAN_OPTIONS") or os.environ.get("ASAN_OPTIONS") else 100
    root = os.path.join(work, "wide")
    make_wide(root, tops=tops)
    page, out, _ = run(work, "wide", root, ", max_children: 30, max_depth: 3", threads=2)
    size = os.path.getsize(page)
    assert size < 3 * 1024 * 1024, size
    with open(page, "rb") as f:
        html = f.read()
    start = html.index(b'id="pwalk-data">') + 16
    doc = json.loads(html[start:html.index(b"</script>", start)])
    tree = doc["tree"]
    assert tree["dirs"] == tops * 1000 + tops + 1
    nodes = list(tree_nodes(tree["root"]))
    assert len(nodes) == tree["shown"] <= 10000
    assert max(len(n.get("c", [])) for n, _ in nodes) == 30
    assert max(level for _, level in nodes) <= 3
    # the kept subdirectories are the largest of their directory
    dirs = {r["path"]: int(r["bytes"]) for r in table(out, "dirs")}
    last = "t%03d" % (tops - 1)  # the largest top directory
    t99 = next(n for n in tree["root"]["c"] if n["n"] == last)
    kept = sorted(int(c["b"]) for c in t99["c"])
    others = [b for p, b in dirs.items() if p.startswith(root + "/" + last + "/") and
              p.count("/") == root.count("/") + 2]
    assert kept[0] >= sorted(others, reverse=True)[29]
    assert t99["o"] == 1000 - 30
    p, dom, _, _, _ = load(work, page, "wide")
    assert dom["report"]["loadedMs"] < 2000
    assert p.requests == ["file://" + page]
    assert dom["facts"]["dirs"] == str(tree["dirs"])


@pytest.mark.parametrize("opts,message", [
    (", max_children: 0", "max_children"),
    (", age_days: ['30', '7']", "age_days"),
    (", mode: '999'", "mode"),
])
def test_bad_options_exit_2_and_write_nothing(work, opts, message):
    root = os.path.join(work, "small")
    if not os.path.isdir(root):
        os.mkdir(root)
    page = os.path.join(work, "bad.html")
    _, _, err = run(work, "bad", root, opts, summary=False, status=2)
    assert message in err, err
    assert not os.path.exists(page)
    assert not [n for n in os.listdir(work) if n.startswith(".bad.html")]


def test_missing_directory_exit_2(work):
    page = os.path.join(work, "no", "such", "dir", "x.html")
    cfg = os.path.join(work, "missing.yaml")
    with open(cfg, "w") as f:
        f.write("version: 1\nsinks:\n  - {name: page, plugin: html, options: {path: %s}}\n"
                % T.yaml_str(page))
    os.makedirs(os.path.join(work, "small"), exist_ok=True)
    r = T.run_engine(["-q", "-c", cfg, os.path.join(work, "small")])
    assert r.returncode == 2, r.stderr
    assert page.encode() in r.stderr or b"no/such/dir" in r.stderr, r.stderr


def embedded(page):
    with open(page, "rb") as f:
        html = f.read()
    start = html.index(b'id="pwalk-data">') + 16
    return json.loads(html[start:html.index(b"</script>", start)])


def test_the_shipped_nightly_config_writes_the_page(work):
    cfg = T.built("configs/nightly.yaml")
    if not cfg:
        pytest.skip("configs/nightly.yaml is not in the runfiles")
    tree = os.path.join(work, "night-tree")
    T.build(tree, unreadable=False, filters=False)
    run_dir = os.path.join(work, "night")
    os.makedirs(os.path.join(run_dir, "textfile"))
    r = subprocess.run(T.UNPRIVILEGED + [T.built("pwalk-engine"), "-q", "-c", cfg, "--set",
                                         "metrics.path=" + os.path.join(run_dir, "textfile",
                                                                        "p.prom"), tree],
                       cwd=run_dir, capture_output=True)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(run_dir, "summary", "summary.json")) as f:
        meta = json.load(f)
    doc = embedded(os.path.join(run_dir, "audit.html"))
    assert doc["title"] == "Nightly audit"
    assert doc["totals"] == meta["totals"]
    for k in ("entries", "errors", "filtered", "roots", "start_time"):
        assert doc["facts"][k] == meta[k], k


VOLATILE_FACTS = {"threads", "ranks", "start_time", "end_time", "hostname"}


def test_pwalk_mpi_gives_one_page_equal_to_one_process(work):
    """Each rank writes the summary's partial; rank 0 merges them into one
    page whose data equals one process's (facts aside) and summary.json."""
    mpi = T.built("pwalk-mpi")
    if not mpi or not shutil.which("mpirun"):
        pytest.skip("pwalk-mpi is built only with Open MPI installed (not here)")
    tree = os.path.join(work, "mpi-tree")
    T.build(tree, unreadable=False, filters=False)
    add_hostile(tree)
    one_page, _, _ = run(work, "mpi-one", tree, summary=False)
    one = embedded(one_page)
    env = T.mpi_env()  # Open MPI's own leaks and races are not ours
    for np in (2, 3):
        page = os.path.join(work, "mpi%d.html" % np)
        out = os.path.join(work, "mpi%d-summary" % np)
        cfg = os.path.join(work, "mpi%d.yaml" % np)
        with open(cfg, "w") as f:
            f.write("version: 1\nsinks:\n"
                    "  - {name: sum, plugin: summary, options: {dir: %s, print: false}}\n"
                    "  - {name: page, plugin: html, options: {path: %s}}\n"
                    % (T.yaml_str(out), T.yaml_str(page)))
        argv = ["mpirun", "--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0
                                                else [])
        argv += ["-np", str(np), mpi, "-q", "-c", cfg, tree]
        r = subprocess.run(argv, capture_output=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        # one page, no partials left beside it
        assert not [n for n in os.listdir(work) if n.startswith("mpi%d.html." % np)]
        doc = embedded(page)
        assert doc["facts"]["ranks"] == np
        for k in doc:
            if k != "facts":
                assert doc[k] == one[k], (np, k)
        for k in set(doc["facts"]) - VOLATILE_FACTS:
            assert doc["facts"][k] == one["facts"][k], (np, k)
        with open(os.path.join(out, "summary.json")) as f:
            meta = json.load(f)
        assert doc["totals"] == meta["totals"]
        assert doc["facts"]["entries"] == meta["entries"]
