#!/bin/bash
# Install a built pwalk under a prefix, as a system library is installed:
#
#   bazel run //:install -- --prefix=/usr/local            (the usual way)
#   bash scripts/install.sh --from DIR --prefix=PREFIX [--destdir=DIR]
#
# DIR is a tree laid out like the workspace with the build outputs in it:
# the runfiles of //:install (what `bazel run` starts this script in), or of
# a test that has //:install as data (tests/install).  It installs
#
#   PREFIX/bin/pwalk-engine, PREFIX/bin/pwalk-mpi (when it was built)
#   PREFIX/bin/pwalk-diff                   what changed between two scans
#   PREFIX/lib/libpwalk.so.VERSION          libpwalk for embedders (pwalk.h),
#   PREFIX/lib/libpwalk.so.0, libpwalk.so   its SONAME and link-time names
#   PREFIX/lib/libpwalk.a                   the same, to link statically
#   PREFIX/lib/pwalk/plugins/NAME.so        where the engine looks (loader.c)
#   PREFIX/lib/pwalk/plugin.lds             the plugins' version script
#   PREFIX/lib/pkgconfig/pwalk.pc           for plugin authors (--cflags)
#                                           and embedders (--cflags --libs)
#   PREFIX/include/pwalk/...                the public headers
#   PREFIX/share/pwalk/                     example pipelines, the template plugin
#   PREFIX/share/man/man1/pwalk-engine.1, pwalk-diff.1, man5/pwalk-pipeline.5
#   PREFIX/share/doc/pwalk/                 README, LICENSE, the CSV format
#
# DESTDIR (--destdir=DIR or the environment) stages the same tree under DIR
# for a package; paths written into files (pwalk.pc) stay PREFIX's.  Files
# are 0755 (programs, plugins) or 0644 (libpwalk.so too, as shared libraries
# are), owned by whoever runs this; the
# directories it creates are 0755, and pwalk's own ones are made 0755 when
# they exist already: as root the engine refuses plugins in a directory
# writable by group or others (README, "Plugins when running as root").
# Existing directories above them (/usr/local/lib) are left as they are.
# Exit status: 0 installed, 2 bad usage or nothing built to install,
# 1 a copy failed.
set -euo pipefail

prog=install.sh
die() { echo "$prog: $1" >&2; exit "${2:-2}"; }

prefix=/usr/local
destdir=${DESTDIR:-}
from=
while [ $# -gt 0 ]; do
    case $1 in
        --prefix=*) prefix=${1#*=} ;;
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift ;;
        --destdir=*) destdir=${1#*=} ;;
        --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir=$2; shift ;;
        --from=*) from=${1#*=} ;;
        --from) [ $# -ge 2 ] || die "--from needs a directory"; from=$2; shift ;;
        -h|--help) sed -n '2,33s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (usage: --prefix=DIR [--destdir=DIR])" ;;
    esac
    shift
done

# `bazel run` starts us in our runfiles with the user's directory in
# BUILD_WORKING_DIRECTORY: relative paths the user typed mean that one.
user_dir=${BUILD_WORKING_DIRECTORY:-$PWD}
# (`..` folded, symlinks kept: pwalk.pc names the prefix as the user spelled it)
absolute() {
    case $1 in /*) realpath -m -s -- "$1" ;; *) realpath -m -s -- "$user_dir/$1" ;; esac
}
[ -n "$prefix" ] || die "--prefix is empty"
prefix=$(absolute "$prefix")
prefix=${prefix%/}
[ -z "$destdir" ] || destdir=$(absolute "$destdir")
destdir=${destdir%/}

if [ -z "$from" ]; then
    for d in "${RUNFILES_DIR:-}/pwalk" "$0.runfiles/pwalk" "$PWD"; do
        if [ -x "$d/pwalk-engine" ]; then from=$d; break; fi
    done
fi
[ -n "$from" ] && [ -x "$from/pwalk-engine" ] ||
    die "no built pwalk-engine found (run it as 'bazel run //:install -- --prefix=DIR', or give --from DIR)"

root=$destdir$prefix
umask 022

# mkdir -p, but each directory it creates is 0755 whatever the umask
make_dirs() {
    local d=$1 up
    [ -d "$d" ] && return 0
    up=$(dirname "$d")
    [ "$up" = "$d" ] || make_dirs "$up"
    mkdir -m 0755 "$d" || die "cannot create directory $d" 1
}
# pwalk's own directories: 0755 even when they existed already
own_dir() {
    make_dirs "$1"
    chmod 0755 "$1" || die "cannot set the mode of $1" 1
}
# put FILE as DEST with MODE; install(1) unlinks DEST first, so a scan that
# is running keeps the old plugin's inode instead of seeing it rewritten.
# `command -p`: the system's install, never this script's own Bazel target
# (//:install), which a PATH holding "." would find first in its runfiles.
put() {
    command -p install -m "$2" "$1" "$3" || die "cannot install $3" 1
}

make_dirs "$root/bin"
put "$from/pwalk-engine" 0755 "$root/bin/pwalk-engine"
put "$from/pwalk-diff" 0755 "$root/bin/pwalk-diff"
if [ -x "$from/pwalk-mpi" ]; then
    put "$from/pwalk-mpi" 0755 "$root/bin/pwalk-mpi"
fi

own_dir "$root/lib/pwalk"
own_dir "$root/lib/pwalk/plugins"
plugins=()
for so in "$from"/plugins/*/*.so; do
    [ -f "$so" ] || continue
    name=$(basename "$so" .so)
    # only a plugin's own folder (plugins/csv/csv.so), not a test fixture
    [ "$(basename "$(dirname "$so")")" = "$name" ] || continue
    put "$so" 0755 "$root/lib/pwalk/plugins/$name.so"
    plugins+=("$name")
done
[ ${#plugins[@]} -gt 0 ] || die "no plugins under $from/plugins (build //plugins:all_plugins)"
put "$from/plugins/plugin.lds" 0644 "$root/lib/pwalk/plugin.lds"

# every public header that exists at build time (include/pwalk/**.h)
(cd "$from/include" && find -L pwalk -name '*.h' -print) | sort | while read -r h; do
    own_dir "$root/include/$(dirname "$h")"
    put "$from/include/$h" 0644 "$root/include/$h"
done

own_dir "$root/share/pwalk"
for f in "$from"/configs/*; do
    [ -f "$f" ] && put "$f" 0644 "$root/share/pwalk/$(basename "$f")"
done
# the SLURM batch script that requeues a checkpointed scan until it is done
own_dir "$root/share/pwalk/slurm"
put "$from/configs/slurm/pwalk-resume.sbatch" 0755 "$root/share/pwalk/slurm/pwalk-resume.sbatch"
own_dir "$root/share/pwalk/template"
for f in template.c README.md; do
    put "$from/plugins/template/$f" 0644 "$root/share/pwalk/template/$f"
done

make_dirs "$root/share/man/man1"
make_dirs "$root/share/man/man5"
put "$from/engine/man/pwalk-engine.1" 0644 "$root/share/man/man1/pwalk-engine.1"
put "$from/engine/man/pwalk-diff.1" 0644 "$root/share/man/man1/pwalk-diff.1"
put "$from/engine/man/pwalk-pipeline.5" 0644 "$root/share/man/man5/pwalk-pipeline.5"

own_dir "$root/share/doc/pwalk"
put "$from/README.md" 0644 "$root/share/doc/pwalk/README.md"
put "$from/LICENSE" 0644 "$root/share/doc/pwalk/LICENSE"
put "$from/plugins/csv/FORMAT.md" 0644 "$root/share/doc/pwalk/csv-format.md"
put "$from/engine/diff/README.md" 0644 "$root/share/doc/pwalk/pwalk-diff.md"
put "$from/plugins/summary/FORMAT.md" 0644 "$root/share/doc/pwalk/summary-format.md"
put "$from/plugins/ncdu/README.md" 0644 "$root/share/doc/pwalk/ncdu.md"
put "$from/plugins/html/README.md" 0644 "$root/share/doc/pwalk/html.md"
put "$from/plugins/prometheus/README.md" 0644 "$root/share/doc/pwalk/prometheus.md"

# The version the engine reports ("pwalk-engine 0.1.0 (plugin ABI 1.2)").
version=$("$from/pwalk-engine" --version 2>/dev/null | awk 'NR == 1 {print $2}') || true
abi=$("$from/pwalk-engine" --version 2>/dev/null | sed -n '1s/.*plugin ABI \([0-9.]*\).*/\1/p') || true
# libpwalk for embedding programs: the file under its full version, the
# SONAME the dynamic loader looks for (libpwalk.so.MAJOR, //:libpwalk.so's
# -soname) and the name `-lpwalk` links; each link replaced in one rename.
[ -f "$from/libpwalk.so" ] || die "no built libpwalk.so under $from (build //:libpwalk.so)"
lib=libpwalk.so.${version:-0}
put "$from/libpwalk.so" 0644 "$root/lib/$lib"
put_link() { # put_link TARGET NAME: NAME -> TARGET in $root/lib
    ln -sfn "$1" "$root/lib/.$2.tmp" && mv -Tf "$root/lib/.$2.tmp" "$root/lib/$2" ||
        die "cannot link $root/lib/$2" 1
}
put_link "$lib" "libpwalk.so.${version%%.*}"
put_link "$lib" libpwalk.so
# the same as an archive (//:libpwalk.a: pwalk_* global, the rest local)
[ -f "$from/libpwalk.a" ] || die "no built libpwalk.a under $from (build //:libpwalk.a)"
put "$from/libpwalk.a" 0644 "$root/lib/libpwalk.a"

make_dirs "$root/lib/pkgconfig"
pc=$(mktemp "$root/lib/pkgconfig/.pwalk.pc.XXXXXX")
cat > "$pc" <<EOF
# pwalk $version.  A plugin is built against the headers only and links
# nothing from pwalk (the engine hands it everything through its host
# table): --cflags, never --libs:
#   cc \$(pkg-config --cflags pwalk) -shared -fPIC \\
#      -Wl,--version-script=\$(pkg-config --variable=plugin_version_script pwalk) \\
#      -o NAME.so NAME.c
# and goes to \$(pkg-config --variable=plugindir pwalk), or a plugin_path.
# A program embedding scans (pwalk/pwalk.h) links libpwalk: --cflags --libs:
#   cc -o prog prog.c \$(pkg-config --cflags --libs pwalk)
# (add -Wl,-rpath,\$(pkg-config --variable=libdir pwalk) when libdir is not
# on the loader's path); the library finds the plugins in plugindir itself.
# Statically: libdir/libpwalk.a plus Libs.private (pkg-config --static), and
# give the program plugindir (pwalk_scan_add_plugin_dir()).
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include
plugindir=\${libdir}/pwalk/plugins
plugin_version_script=\${libdir}/pwalk/plugin.lds
plugin_abi=${abi:-1}
datadir=\${prefix}/share/pwalk

Name: pwalk
Description: pwalk filesystem scanner: libpwalk (pwalk/pwalk.h) for embedders, the plugin ABI (pwalk/plugin.h) for plugins
Version: ${version:-0}
Cflags: -I\${includedir}
Libs: -L\${libdir} -lpwalk
Libs.private: -lyaml -lz -pthread -ldl
EOF
chmod 0644 "$pc"
mv -f "$pc" "$root/lib/pkgconfig/pwalk.pc"

# As root in a directory the dynamic loader already searches
# (/usr/local/lib on Debian), refresh its cache so `-lpwalk` programs start
# at once; any other prefix is the embedder's -Wl,-rpath or LD_LIBRARY_PATH.
if [ -z "$destdir" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig > /dev/null &&
    ldconfig -v -N -X 2> /dev/null | cut -d: -f1 | grep -qxF "$root/lib"; then
    ldconfig || echo "$prog: warning: ldconfig failed; run it before starting programs linked with -lpwalk" >&2
fi

# As root, say now what the engine would refuse at the first scan.
if [ -z "$destdir" ] && [ "$(id -u)" -eq 0 ]; then
    d=$root/lib/pwalk/plugins
    while :; do
        read -r mode owner < <(stat -L -c '%a %u' "$d")
        if [ "$owner" != 0 ] || [ $((8#$mode & 8#022)) -ne 0 ]; then
            echo "$prog: warning: $d is mode $mode, owner uid $owner: the engine, run as root, will refuse plugins below it (README, \"Installing\")" >&2
        fi
        [ "$d" = / ] && break
        d=$(dirname "$d")
    done
fi

echo "installed pwalk ${version:-} under ${destdir:+$destdir}$prefix: bin/pwalk-engine$([ -x "$from/pwalk-mpi" ] && echo ', bin/pwalk-mpi'), lib/$lib, plugins ${plugins[*]}"
