"""The README's examples run as written (issue 13 #14: the mpirun example
failed on a fresh checkout until `mkdir out`).

README.md is read when the test runs: the ```sh blocks of the sections
"Running a scan", "Compressed reports...", "Past one node..." (MPI) and
"Python" are run command by command, in order, from a scratch copy of the
checkout (configs/, the Python sources, bazel-bin/ holding the binaries
Bazel built for this test), so a file the checkout happens to have never
helps.  Paths a command needs that a test machine lacks (/data,
/data/project, /shared/project, /gpfs/projects) name a scratch tree, and
/tmp/... a scratch directory.  Each command must exit 0, and every output it
promises must exist and not be empty:
  - the files after "->" in its comment;
  - a file its stdout is redirected to (> FILE) and a --set SINK.path=FILE;
  - pwalk-mpi: the manifest whose path it prints, and the shards it lists;
  - pwalk.report(TOP, OUTPUT): OUTPUT.
Not run: sbatch (needs SLURM), mpirun without Open MPI, and the Python
section without python3-venv (each a skip with the reason).  Open MPI is told
what the example's comment says to add on a small box (--oversubscribe,
--allow-run-as-root) through its environment, so the command stays as
written; pip runs offline (PIP_NO_INDEX), as the README promises it can.
"""

import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PLACEHOLDERS = ("/data/project", "/shared/project", "/gpfs/projects", "/data")
TIMEOUT = 600


def built(name):
    """A binary Bazel built for this test (its runfiles), else the
    checkout's bazel-bin when run by hand."""
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        p = os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "pwalk"), name)
        return os.path.realpath(p) if os.path.exists(p) else None
    p = os.path.join(ROOT, "bazel-bin", name)
    return os.path.realpath(p) if os.path.exists(p) else None


def readme_section(prefix):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        if title.startswith(prefix):
            return body
    pytest.fail(f"README.md has no section '## {prefix}...'")


def sh_commands(body):
    """The command lines of a section's ```sh blocks (continuations joined)."""
    cmds = []
    for block in re.findall(r"^```sh\n(.*?)^```", body, flags=re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                cmds.append(line.rstrip())
    return cmds


def split_comment(cmd):
    """(code, comment) of a shell line: '#' outside quotes after a blank."""
    quote = None
    for i, c in enumerate(cmd):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or cmd[i - 1].isspace()):
            return cmd[:i].rstrip(), cmd[i + 1:].strip()
    return cmd, ""


def substitute(cmd, tree, scratch):
    """One pass, so a replacement (under /tmp) is never replaced again."""
    alt = "|".join(re.escape(p) for p in PLACEHOLDERS)
    return re.sub(r"(?<![\w./-])(?:(" + alt + r")(?![\w.-])|/tmp/)",
                  lambda m: tree if m.group(1) else scratch + "/", cmd)


def promised(code, comment, stdout):
    """Files (relative to the checkout or absolute) the command promises."""
    files = []
    if "->" in comment:
        files += re.findall(r"[\w./-]+\.[\w]+", comment.split("->", 1)[1].split(";")[0])
    words = shlex.split(code)
    for i, w in enumerate(words):
        if w == ">" and i + 1 < len(words):
            files.append(words[i + 1])
        elif w.startswith(">") and len(w) > 1 and not w.startswith(">&"):
            files.append(w[1:])
        elif re.match(r"^[\w-]+\.path=", w) and i > 0 and words[i - 1] == "--set":
            files.append(w.split("=", 1)[1])
    m = re.search(r"pwalk\.report\(\s*['\"][^'\"]*['\"]\s*,\s*['\"]([^'\"]+)['\"]", code)
    if m:
        files.append(m.group(1))
    return files


def mpi_outputs(checkout, stdout):
    """pwalk-mpi prints its manifest's path: the manifest and every shard."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    assert lines, "pwalk-mpi printed no manifest path"
    manifest = os.path.join(checkout, lines[-1])
    with open(manifest, encoding="utf-8") as f:
        m = json.load(f)
    files = [manifest]
    text = json.dumps(m)
    # every shard the manifest names (paths of *.part-NNNN.* files)
    files += [os.path.join(checkout, p) for p in
              set(re.findall(r'"([^"*]*\.part-\d{4}[^"*]*)"', text))]
    assert len(files) > 1, f"no shards named in {manifest}: {text[:400]}"
    return files


def shared_ancestor(path):
    """The first directory on path others may write (e.g. /tmp), or None."""
    p = os.path.realpath(path)
    while True:
        st = os.stat(p)
        if st.st_mode & 0o022:
            return p
        if p == "/":
            return None
        p = os.path.dirname(p)


@pytest.fixture
def workdir(tmp_path):
    """Where the scratch checkout goes.  As root, plugins load only from
    directories no other user can write (README), so the venv of the Python
    example must not be below /tmp: under Bazel the test's own TEST_TMPDIR,
    else a directory in root's home."""
    if os.geteuid() != 0 or not shared_ancestor(tmp_path):
        yield tmp_path
        return
    for base in (os.environ.get("TEST_TMPDIR"), os.path.expanduser("~")):
        if base and os.path.isdir(base) and not shared_ancestor(base):
            d = tempfile.mkdtemp(prefix="pwalk-readme-", dir=base)
            try:
                yield pathlib.Path(d)
            finally:
                shutil.rmtree(d, ignore_errors=True)
            return
    pytest.skip("no directory without group/other write access for a root run")


@pytest.fixture
def scratch(workdir):
    """(checkout, tree, tmpdir): a scratch checkout with bazel-bin/, a tree
    to scan, and a directory standing in for /tmp."""
    tmp_path = workdir
    engine = built("pwalk-engine")
    if not engine:
        pytest.skip("pwalk-engine is not built")
    checkout = tmp_path / "checkout"
    (checkout / "bazel-bin").mkdir(parents=True)
    # symlinks to the real files: the engine finds its plugins next to them
    os.symlink(engine, checkout / "bazel-bin" / "pwalk-engine")
    mpi = built("pwalk-mpi")
    if mpi:
        os.symlink(mpi, checkout / "bazel-bin" / "pwalk-mpi")
    shutil.copytree(os.path.join(ROOT, "configs"), checkout / "configs")
    shutil.copy(os.path.join(ROOT, "README.md"), checkout / "README.md")
    tree = tmp_path / "tree"
    for d in ("project/a/b", "project/c", "other"):
        (tree / d).mkdir(parents=True)
    for i, d in enumerate(("project", "project/a", "project/a/b", "project/c", "other")):
        for j in range(3):
            (tree / d / f"f{j}.dat").write_bytes(b"x" * (i * 10 + j))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    return str(checkout), str(tree), str(tmpdir)


def run_section(prefix, scratch, env=None, skip=lambda code: None, required=True):
    checkout, tree, tmpdir = scratch
    cmds = sh_commands(readme_section(prefix))
    if not cmds:
        if required:
            pytest.fail(f"README section '{prefix}' has no ```sh example")
        pytest.skip(f"README section '{prefix}' has no ```sh example")
    full_env = dict(os.environ, **(env or {}))
    for k in [k for k, v in full_env.items() if v is None]:
        del full_env[k]
    ran, skipped = 0, []
    for cmd in cmds:
        code, comment = split_comment(cmd)
        why = skip(code)
        if why:
            skipped.append(f"{code!r}: {why}")
            continue
        code = substitute(code, tree, tmpdir)
        r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=checkout,
                           env=full_env, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, (f"README example failed (exit {r.returncode}), run in a "
                                   f"fresh checkout:\n  {cmd}\nran as: {code}\n"
                                   f"stdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}")
        files = promised(code, comment, r.stdout)
        if "pwalk-mpi" in code:
            files += mpi_outputs(checkout, r.stdout)
        for f in files:
            p = os.path.join(checkout, f)
            assert os.path.isfile(p) and os.path.getsize(p) > 0, (
                f"README example did not write {f}:\n  {cmd}\nran as: {code}\n"
                f"in {checkout}: {sorted(os.listdir(checkout))}")
        ran += 1
    if not ran:
        pytest.skip("; ".join(skipped))


def test_running_a_scan(scratch):
    run_section("Running a scan", scratch)


def test_compressed_reports(scratch):
    run_section("Compressed reports", scratch, required=False)


def test_mpi(scratch):
    ompi = {  # what the example's comment says to add on a small box
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    }

    def skip(code):
        word = shlex.split(code)[0]
        if word == "sbatch" and not shutil.which("sbatch"):
            return "SLURM is not installed"
        if word == "mpirun" and not shutil.which("mpirun"):
            return "Open MPI is not installed"
        if "pwalk-mpi" in code and not built("pwalk-mpi"):
            return "pwalk-mpi is not built (no MPI)"
        return None

    run_section("Past one node", scratch, env=ompi, skip=skip)


def test_python(scratch):
    if subprocess.run(["/usr/bin/python3", "-c", "import venv, ensurepip"],
                      capture_output=True).returncode != 0:
        pytest.skip("python3-venv is not installed")
    checkout = scratch[0]
    # the sources `pip install ./python` builds from, as a checkout has them
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so",
                                    ".pytest_cache")
    for d in ("common", "engine", "include", "plugins", "python"):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(checkout, d), ignore=ignore)
    env = {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           # only the venv decides what is imported (None: unset)
           "PYTHONPATH": None, "PYTHONHOME": None, "PYTHONSTARTUP": None}
    run_section("Python", scratch, env=env)
