"""The system's MPI (Open MPI from apt: openmpi-bin libopenmpi-dev), found
through its compiler wrapper `mpicc --showme:...`.

Generates @pwalk_mpi with
  //:mpi       a cc_library for <mpi.h> and -lmpi
  //:defs.bzl  MPI_AVAILABLE, and mpi_only(rule, **kwargs) which declares the
               target only when MPI is installed -- so `bazel build //...`
               still works on a machine without MPI, leaving pwalk-mpi out.
$PWALK_MPICC chooses another wrapper (a site's MPI).
"""

def _showme(ctx, mpicc, what):
    r = ctx.execute([mpicc, "--showme:" + what])
    if r.return_code != 0:
        return None
    return r.stdout.strip().split(" ")

def _mpi_repo_impl(ctx):
    mpicc = ctx.os.environ.get("PWALK_MPICC", "") or ctx.which("mpicc")
    incdirs = None
    libdirs = None
    libs = None
    if mpicc:
        incdirs = _showme(ctx, mpicc, "incdirs")
        libdirs = _showme(ctx, mpicc, "libdirs")
        libs = _showme(ctx, mpicc, "libs")
    available = bool(incdirs and libs and ctx.path(incdirs[0] + "/mpi.h").exists)
    if not available:
        ctx.file("BUILD", "# no MPI on this machine (mpicc not found)\n")
        ctx.file("defs.bzl", "MPI_AVAILABLE = False\n\ndef mpi_only(rule, **kwargs):\n    pass\n")
        return
    includes = []
    for i, d in enumerate(incdirs):
        ctx.symlink(d, "inc%d" % i)
        includes.append("inc%d" % i)
    linkopts = []
    for d in libdirs or []:
        if d:
            linkopts += ["-L" + d, "-Wl,-rpath," + d]
    linkopts += ["-l" + l for l in libs if l]
    ctx.file("BUILD", """package(default_visibility = ["//visibility:public"])

cc_library(
    name = "mpi",
    hdrs = glob(["inc*/**/*.h"]),
    includes = {includes},
    linkopts = {linkopts},
)
""".format(includes = repr(includes), linkopts = repr(linkopts)))
    ctx.file("defs.bzl", "MPI_AVAILABLE = True\n\ndef mpi_only(rule, **kwargs):\n    rule(**kwargs)\n")

mpi_repo = repository_rule(
    implementation = _mpi_repo_impl,
    environ = ["PWALK_MPICC", "PATH"],
    local = True,
)
