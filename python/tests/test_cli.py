"""The `pwalk` command (python -m pwalk): walk, report, repair, run."""

import grp
import os
import subprocess
import sys

import pytest

import pwalk
import reportcheck
from conftest import make_hostile_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_hostile_tree(os.fsencode(tmp_path_factory.mktemp("cli") / "tree"), big=50)


def pwalk_cmd(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, "-m", "pwalk", *map(os.fsdecode, args)],
                          cwd=cwd, env=env, capture_output=True)


def find_like(top, topdown=True, snapshots=False, dirs_only=False):
    out = [top] if topdown else []
    for dirpath, dirnames, filenames in os.walk(top, topdown=topdown):
        if not snapshots:
            dirnames[:] = [d for d in dirnames if d != b".snapshot"]
        if not topdown and not snapshots and b"/.snapshot" in dirpath[len(top):] + b"/":
            continue
        names = dirnames if dirs_only else dirnames + filenames
        if not topdown and not snapshots:
            names = [n for n in names if n != b".snapshot"]
        out += [os.path.join(dirpath, n) for n in names]
    if not topdown:
        out.append(top)
    return out


def test_walk_lists_every_entry_like_find(tree):
    r = pwalk_cmd("walk", "-0", tree)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(b"\0")[:-1] == find_like(tree)
    r = pwalk_cmd("walk", "-0", "--dirs", "--snapshots", "-t", "1", tree)
    assert r.stdout.split(b"\0")[:-1] == find_like(tree, snapshots=True, dirs_only=True)
    r = pwalk_cmd("walk", "-0", "--bottom-up", tree)
    assert r.stdout.split(b"\0")[:-1] == find_like(tree, topdown=False)


def test_walk_of_a_missing_path_fails(tmp_path):
    # a root that is not there is bad usage, as for `pwalk report`: exit 2
    # and one line on stderr, and it is not listed as if it were an entry
    for args in ([], ["--bottom-up"]):
        r = pwalk_cmd("walk", *args, tmp_path / "nope")
        assert r.returncode == 2
        assert r.stdout == b""
        assert r.stderr == b"pwalk: %s: No such file or directory\n" % os.fsencode(
            tmp_path / "nope")


def test_report_and_its_exit_statuses(tree, tmp_path):
    r = pwalk_cmd("report", tree, "-o", "x.csv.gz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == b"x.csv.gz"
    rows = reportcheck.parse(reportcheck.read_bytes(str(tmp_path / "x.csv.gz")))
    reportcheck.check_rows(rows, [tree])
    r = pwalk_cmd("report", tree, "-z", "none", "--no-header", "--escape", "dey",
                  cwd=tmp_path)
    assert r.returncode == 0 and os.path.exists(tmp_path / "scan.csv")
    r = pwalk_cmd("report", tmp_path / "nope", cwd=tmp_path)
    assert r.returncode == 2 and b"No such file" in r.stderr
    r = pwalk_cmd("report", tree, "-o", tmp_path / "no" / "dir.csv")
    assert r.returncode == 2 and b"sink 'report'" in r.stderr


def test_run_and_bad_config(tree, tmp_path):
    cfg = tmp_path / "p.yaml"
    out = tmp_path / "o.csv"
    cfg.write_text(f"version: 1\nsinks:\n  - name: inv\n    plugin: csv\n"
                   f"    options: {{path: {out}}}\n")
    r = pwalk_cmd("run", cfg, tree, "--set", "inv.header=false")
    assert r.returncode == 0, r.stderr
    assert b"inv:" in r.stdout and out.exists()
    reportcheck.parse(out.read_bytes(), header=False)
    cfg.write_text("version: 1\nsinks:\n  - name: inv\n    plugin: csv\n    colour: red\n")
    r = pwalk_cmd("run", cfg, tree)
    assert r.returncode == 2 and b"colour" in r.stderr


def test_repair_dry_run_by_default(tmp_path):
    if not os.path.exists(os.path.join(pwalk.PLUGIN_DIR, "repair-action")):
        pytest.skip("the repair-action plugin is not built")
    top = tmp_path / "proj"
    top.mkdir()
    (top / "f").write_text("x")
    os.chmod(top / "f", 0o600)
    r = pwalk_cmd("repair", top)
    assert r.returncode == 0, r.stderr
    assert b"dry run" in r.stdout
    assert os.stat(top / "f").st_mode & 0o777 == 0o600


def test_repair_group_names_and_mirror_user_exec(tmp_path):
    if not os.path.exists(os.path.join(pwalk.PLUGIN_DIR, "repair-action")):
        pytest.skip("the repair-action plugin is not built")
    if os.geteuid() != 0:
        pytest.skip("needs root to give the tree a project group")
    try:
        group = grp.getgrgid(65534).gr_name
    except KeyError:
        pytest.skip("no group 65534")
    top = tmp_path / "proj"
    top.mkdir()
    script = top / "script"
    script.write_text("x")
    for p in (top, script):
        os.chown(p, 0, 65534)  # 65534 is a project group here: not root's
    os.chmod(script, 0o700)
    r = pwalk_cmd("repair", top)
    assert r.returncode == 0, r.stderr
    assert b"mode of %s: 0700 -> 0750" % os.fsencode(script) in r.stdout
    r = pwalk_cmd("repair", top, "--no-mirror-user-exec")
    assert r.returncode == 0, r.stderr
    assert b"mode of %s: 0700 -> 0740" % os.fsencode(script) in r.stdout
    # a group name, as repair(change_gids=) takes: 65534 is then not a
    # project group, and nothing has one
    r = pwalk_cmd("repair", top, "--change-gid", group)
    assert r.returncode == 0, r.stderr
    assert b"skipped %s: no-project-group" % os.fsencode(script) in r.stdout
    assert b"0 to change" in r.stdout


def test_report_refusing_an_argument_is_bad_usage(tree, tmp_path):
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"version: 1\nsinks:\n  - name: inv\n    plugin: csv\n"
                   f"    options: {{path: {tmp_path / 'o.csv'}}}\n")
    r = pwalk_cmd("report", tree, "-c", cfg, "-o", tmp_path / "x.csv")
    assert r.returncode == 2 and b"output" in r.stderr and b"Traceback" not in r.stderr
    r = pwalk_cmd("report", tree, "-t", "0", cwd=tmp_path)
    assert r.returncode == 2 and b"max_threads" in r.stderr and b"Traceback" not in r.stderr
    assert sorted(os.listdir(tmp_path)) == ["p.yaml"]


def test_usage_errors():
    assert pwalk_cmd().returncode == 2
    assert pwalk_cmd("frobnicate").returncode == 2
    r = pwalk_cmd("--version")
    assert r.returncode == 0 and pwalk.__version__.encode() in r.stdout


def test_report_with_a_summary(tree, tmp_path):
    r = pwalk_cmd("report", tree, "-o", "r.csv", "--summary", "sum", "--summary-compress", "zstd",
                  cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == ["r.csv", "sum"]
    s = pwalk.read_summary(str(tmp_path / "sum"), pandas=False)
    assert s.info["compress"] == "zstd" and s.dirs[0].path == os.fsdecode(tree)
    # a summary with -c: the pipeline decides its sinks, bad usage
    r = pwalk_cmd("report", tree, "-c", tmp_path / "none.yaml", "--summary", "s2", cwd=tmp_path)
    assert r.returncode == 2 and b"summary cannot be given with config=" in r.stderr
