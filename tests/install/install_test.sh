#!/bin/bash
# Installs pwalk with scripts/install.sh (what `bazel run //:install` runs)
# into a temporary prefix and uses it as a site would: a scan with the
# installed engine and example pipeline (its plugins found from the prefix),
# --describe, the template plugin built out of tree with pkg-config and
# loaded through plugin_path, the man pages linted and found by man(1),
# DESTDIR staging, and a prefix moved elsewhere.
#
#   install_test.sh MPI_BUILT(0|1)
set -uo pipefail

mpi_built=${1:-0}
src=${TEST_SRCDIR:?run under bazel test}/pwalk
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    "$@" || fail "$what"
}
unset PWALK_PLUGIN_PATH PKG_CONFIG_PATH MANPATH

# As root, the engine loads plugins only from a path nobody else can change
# (loader.c): every directory from / root's and not group/other-writable.
# TEST_TMPDIR (below Bazel's output base) normally is; /tmp never is.
safe_for_root() {
    local d=$1 mode owner
    while :; do
        read -r mode owner < <(stat -L -c '%a %u' "$d") || return 1
        [ "$owner" = 0 ] && [ $((8#$mode & 8#022)) -eq 0 ] || return 1
        [ "$d" = / ] && return 0
        d=$(dirname "$d")
    done
}
base=${TEST_TMPDIR:-/tmp}
if [ "$(id -u)" -eq 0 ] && ! safe_for_root "$base"; then
    base=${HOME:-/root}/.cache
    mkdir -p -m 0755 "$base"
    safe_for_root "$base" || { echo "FAIL: no directory fit for root's plugins" >&2; exit 1; }
fi
work=$(mktemp -d "$base/pwalk-install.XXXXXX")
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

# ---- install, under a hostile umask: modes must not depend on it ----------
out=$( (umask 077; bash "$src/scripts/install.sh" --from "$src" --prefix="$prefix") 2>&1)
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: install.sh exited $rc: $out" >&2; exit 1; }
echo "$out"

mode_is() { # mode_is OCTAL FILE...
    local want=$1 f m; shift
    for f in "$@"; do
        if [ ! -e "$f" ]; then fail "not installed: ${f#$prefix/}"; continue; fi
        m=$(stat -c '%a' "$f")
        [ "$m" = "$want" ] || fail "${f#$prefix/}: mode $m, want $want"
        [ "$(stat -c '%u' "$f")" = "$(id -u)" ] || fail "${f#$prefix/}: not owned by the installer"
    done
}
mode_is 755 "$prefix"/bin/pwalk-engine "$prefix"/bin/pwalk-diff "$prefix"/lib/pwalk/plugins/{csv,csv-zstd,csv-gzip,csv-lz4,html,ncdu,prometheus,repair-action,summary,template}.so \
    "$prefix"/share/pwalk/slurm/pwalk-resume.sbatch
mode_is 644 "$prefix"/include/pwalk/plugin.h "$prefix"/lib/pkgconfig/pwalk.pc \
    "$prefix"/lib/pwalk/plugin.lds "$prefix"/share/pwalk/{audit,compat,repair,mpi,summary,nightly}.yaml \
    "$prefix"/share/pwalk/template/{template.c,README.md} \
    "$prefix"/share/man/man1/pwalk-engine.1 "$prefix"/share/man/man1/pwalk-diff.1 \
    "$prefix"/share/man/man5/pwalk-pipeline.5 \
    "$prefix"/share/doc/pwalk/{README.md,LICENSE,csv-format.md,summary-format.md,pwalk-diff.md,ncdu.md,html.md,prometheus.md}
mode_is 755 "$prefix" "$prefix"/{bin,lib,include,share} "$prefix"/lib/pwalk{,/plugins} \
    "$prefix"/include/pwalk "$prefix"/share/pwalk "$prefix"/share/man/man1
# every public header of the tree, whatever was added to include/pwalk/
(cd "$src/include" && find -L pwalk -name '*.h') | while read -r h; do
    cmp -s "$src/include/$h" "$prefix/include/$h" || fail "header $h not installed"
done
if [ "$mpi_built" = 1 ]; then
    mode_is 755 "$prefix"/bin/pwalk-mpi
else
    [ ! -e "$prefix"/bin/pwalk-mpi ] || fail "pwalk-mpi installed though not built"
fi

# ---- a scan with the installed engine and the installed example pipeline --
# The tree and the outputs live outside the prefix; the engine is the
# installed copy, so its plugins can only come from PREFIX/lib/pwalk/plugins.
tree=$work/tree
mkdir -p "$tree"/a/b "$tree"/c
printf 'x' > "$tree"/a/one.txt
printf 'yy' > "$tree"/a/b/two.dat
ln -s one.txt "$tree"/a/link
touch "$tree"/c/three
expected=$(find "$tree" | wc -l)
mkdir "$work/run"
(cd "$work/run" && "$prefix"/bin/pwalk-engine -q -c "$prefix"/share/pwalk/audit.yaml "$tree") \
    > "$work/scan.out" 2> "$work/scan.err"
rc=$?
[ $rc -eq 0 ] || fail "installed scan exited $rc: $(cat "$work/scan.err")"
csv=$work/run/scan.csv
if [ -f "$csv" ]; then
    head -n 1 "$csv" | grep -q '^inode,parent-inode,directory-depth,"filename"' ||
        fail "scan.csv has no header: $(head -n 1 "$csv")"
    rows=$(($(wc -l < "$csv") - 1))
    [ "$rows" -eq "$expected" ] || fail "scan.csv has $rows rows, the tree $expected entries"
    grep -q "\"$tree/a/b/two.dat\",\"dat\"" "$csv" || fail "no row for a/b/two.dat"
    ino=$(stat -c %i "$tree/a/b/two.dat")
    grep -q "^$ino,.*,2,[0-9]*,[0-9]*,1,\"0100" "$csv" || fail "two.dat's row does not match lstat"
else
    fail "the installed scan wrote no scan.csv"
fi
[ -f "$work/run/scan-errors.csv" ] || fail "no scan-errors.csv"

# ---- --describe from the installed engine names the installed plugin -----
desc=$("$prefix"/bin/pwalk-engine --describe csv 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "--describe csv exited $rc: $desc"
grep -qx "file: *$prefix/lib/pwalk/plugins/csv.so" <<<"$desc" ||
    fail "--describe csv did not load the installed plugin: $desc"

# ---- pwalk-diff runs from the prefix: two installed-scan reports, no change --
"$prefix"/bin/pwalk-engine --header "$tree" > "$work/diff-a.csv" 2>/dev/null ||
    fail "pwalk-engine scan for pwalk-diff failed"
out=$("$prefix"/bin/pwalk-diff -o "$work/diff-out" "$work/diff-a.csv" "$work/diff-a.csv" 2>&1) ||
    fail "installed pwalk-diff: $out"
[ -f "$work/diff-out/diff.json" ] || fail "installed pwalk-diff wrote no diff.json"
[ "$(cat "$work/diff-out/changes.csv")" = "change,path,old_path,type,uid,old_uid,gid,old_gid,size,old_size,delta,mtime,old_mtime,mode,old_mode,inode,suspect" ] ||
    fail "installed pwalk-diff: a report against itself has changes"

# ---- pkg-config, and the template plugin built out of tree ----------------
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
version=$("$prefix"/bin/pwalk-engine --version | awk '{print $2}')
[ "$(pkg-config --modversion pwalk)" = "$version" ] ||
    fail "pkg-config --modversion pwalk: '$(pkg-config --modversion pwalk)', engine $version"
cflags=$(pkg-config --cflags pwalk)
[ "${cflags% }" = "-I$prefix/include" ] || fail "pkg-config --cflags pwalk: '$cflags'"
[ "$(pkg-config --variable=plugindir pwalk)" = "$prefix/lib/pwalk/plugins" ] ||
    fail "plugindir: $(pkg-config --variable=plugindir pwalk)"
# Every installed header compiles on its own from the prefix alone (no
# include of the engine's private headers, nothing missing from the install).
for h in $(cd "$prefix/include" && find pwalk -name '*.h' | sort); do
    echo "#include <$h>" | cc $(pkg-config --cflags pwalk) -std=c11 -Wall -Wextra -Werror \
        -fsyntax-only -x c - 2> "$work/hdr.err" ||
        fail "installed header $h does not compile alone: $(cat "$work/hdr.err")"
done
# A site author's copy: renamed everywhere (README's walkthrough), built with
# nothing but the installed prefix, loaded through plugin_path (the installed
# "template" would not be it: the name differs).
mine=$work/site
mkdir "$mine"
sed 's/template/sitesum/g' "$prefix"/share/pwalk/template/template.c > "$mine/sitesum.c"
lds=$(pkg-config --variable=plugin_version_script pwalk)
if ! (cd "$mine" && cc $(pkg-config --cflags pwalk) -std=c11 -Wall -Wextra -Werror \
        -shared -fPIC -O2 -Wl,--version-script="$lds" -o sitesum.so sitesum.c) 2> "$work/cc.err"; then
    fail "building the template out of tree: $(cat "$work/cc.err")"
fi
# the brief form, without the version script, builds too
(cd "$mine" && cc $(pkg-config --cflags pwalk) -shared -fPIC -o plain.so sitesum.c) ||
    fail "cc \$(pkg-config --cflags pwalk) -shared -fPIC failed"
exports=$(nm -D --defined-only "$mine/sitesum.so" | awk '$2 == "T" {print $3}')
[ "$exports" = pwalk_plugin_entry_v1 ] || fail "sitesum.so exports: $exports"
cat > "$mine/site.yaml" <<EOF
version: 1
scan:
  roots: [$tree]
plugin_path: [.]
sinks:
  - name: inventory
    plugin: csv
    options: {path: $work/site.csv}
  - name: sizes
    plugin: sitesum
    options: {path: $work/sitesum.txt}
EOF
"$prefix"/bin/pwalk-engine -q -c "$mine/site.yaml" 2> "$work/site.err"
rc=$?
[ $rc -eq 0 ] || fail "scan with the out-of-tree plugin exited $rc: $(cat "$work/site.err")"
grep -q '^regular files 3, bytes 3$' "$work/sitesum.txt" 2>/dev/null ||
    fail "sitesum's summary: $(cat "$work/sitesum.txt" 2>&1)"
[ "$(($(wc -l < "$work/site.csv") - 1))" -eq "$expected" ] 2>/dev/null ||
    fail "the csv sink next to sitesum wrote a wrong report"

# ---- libpwalk for embedders: the library, its exports, a program using it --
version_file=$prefix/lib/libpwalk.so.$version
mode_is 644 "$version_file"
for link in libpwalk.so.0 libpwalk.so; do
    [ "$(readlink "$prefix/lib/$link")" = "libpwalk.so.$version" ] ||
        fail "lib/$link -> '$(readlink "$prefix/lib/$link")', want libpwalk.so.$version"
done
soname=$(readelf -d "$version_file" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libpwalk.so.0 ] || fail "libpwalk's SONAME is '$soname', want libpwalk.so.0"
# The API and nothing else: every function a public header declares (pwalk.h,
# pwalk/sys/), and no internal symbol (walk_*, cfg_*, csvrow_*, ...).
exported=$(nm -D --defined-only "$version_file" | awk '{print $3}' | sort)
declared=$(cat "$prefix"/include/pwalk/pwalk.h "$prefix"/include/pwalk/sys/*.h |
    grep -o '\bpwalk_[a-z0-9_]*(' | tr -d '(' | sort -u)
leaked=$(grep -v '^pwalk_' <<<"$exported")
[ -z "$leaked" ] || fail "libpwalk.so exports non-API symbols: $(echo $leaked)"
[ "$exported" = "$declared" ] ||
    fail "libpwalk.so's exports differ from the public headers: $(diff <(echo "$declared") <(echo "$exported") | grep '^[<>]' | tr '\n' ' ')"
[ "$(pkg-config --libs pwalk)" = "-L$prefix/lib -lpwalk " ] || [ "$(pkg-config --libs pwalk)" = "-L$prefix/lib -lpwalk" ] ||
    fail "pkg-config --libs pwalk: '$(pkg-config --libs pwalk)'"
# A site's program in a directory of its own, built from the prefix alone
# (tests/install/embed.c: a YAML string pipeline, one csv sink).  Nothing of
# pwalk is beside it: the library finds its plugins relative to itself.
app=$work/app
mkdir "$app"
if ! (cd "$app" && cc -std=c11 -Wall -Wextra -Werror -o embed "$src/tests/install/embed.c" \
        $(pkg-config --cflags --libs pwalk) -Wl,-rpath,"$prefix/lib") 2> "$work/embed-cc.err"; then
    fail "building an embedder with pkg-config --cflags --libs: $(cat "$work/embed-cc.err")"
fi
readelf -d "$app/embed" | grep -q 'NEEDED.*\[libpwalk\.so\.0\]' || fail "embed does not need libpwalk.so.0"
embed_out=$(cd "$app" && ./embed "$tree" "$work/embed.csv" 2> "$work/embed.err")
rc=$?
[ $rc -eq 0 ] || fail "embed exited $rc: $(cat "$work/embed.err")"
grep -qx "version: $version matches" <<<"$embed_out" || fail "embed's library version: $embed_out"
grep -qx "csv-plugin: $prefix/lib/pwalk/plugins/csv.so" <<<"$embed_out" ||
    fail "embed's library did not find the prefix's csv plugin: $embed_out $(cat "$work/embed.err")"
grep -qx "entries: $expected" <<<"$embed_out" || fail "embed: entries, want $expected: $embed_out"
grep -qx "rows: $expected" <<<"$embed_out" || fail "embed: rows, want $expected: $embed_out"
if [ -f "$work/embed.csv" ]; then
    [ "$(($(wc -l < "$work/embed.csv") - 1))" -eq "$expected" ] ||
        fail "embed.csv: $(($(wc -l < "$work/embed.csv") - 1)) rows, the tree $expected entries"
    # one row against lstat: inode, depth, size, nlink, mode
    ino=$(stat -c %i "$tree/a/one.txt")
    grep -q "^$ino,$(stat -c %i "$tree/a"),1,\"$tree/a/one.txt\",\"txt\",$(stat -c '%u,%g,%s,%d,%b,%h' "$tree/a/one.txt"),\"0100$(stat -c %a "$tree/a/one.txt")\"," "$work/embed.csv" ||
        fail "embed.csv's row for a/one.txt does not match lstat: $(grep "one.txt" "$work/embed.csv")"
else
    fail "embed wrote no $work/embed.csv"
fi
# libpwalk.a: the same API global, nothing else (embed.c's own walk_execute,
# cfg_free, lossless_escape link beside it), linked with Libs.private; the
# library is inside the program, so the plugin directory comes from pkg-config.
mode_is 644 "$prefix/lib/libpwalk.a"
leaked=$(nm -g --defined-only "$prefix/lib/libpwalk.a" | awk 'NF == 3 && $3 !~ /^pwalk_/ {print $3}')
[ -z "$leaked" ] || fail "libpwalk.a has non-API globals: $(echo $leaked)"
private=$(pkg-config --static --libs pwalk | sed 's/-lpwalk\b//')
if ! (cd "$app" && cc -std=c11 -Wall -Wextra -Werror -o embed-static "$src/tests/install/embed.c" \
        $(pkg-config --cflags pwalk) "$prefix/lib/libpwalk.a" $private) 2> "$work/embed-cc.err"; then
    fail "building an embedder with libpwalk.a: $(cat "$work/embed-cc.err")"
fi
readelf -d "$app/embed-static" | grep -q 'NEEDED.*libpwalk' && fail "embed-static needs libpwalk.so"
embed_out=$(cd "$app" && ./embed-static "$tree" "$work/embed-static.csv" \
    "$(pkg-config --variable=plugindir pwalk)" 2> "$work/embed.err")
rc=$?
[ $rc -eq 0 ] && grep -qx "rows: $expected" <<<"$embed_out" &&
    [ "$(($(wc -l < "$work/embed-static.csv") - 1))" -eq "$expected" ] ||
    fail "embed-static exited $rc: $embed_out $(cat "$work/embed.err")"

# ---- man pages: lint, and man(1) finds them under the prefix --------------
for page in man1/pwalk-engine.1 man1/pwalk-diff.1 man5/pwalk-pipeline.5; do
    f=$prefix/share/man/$page
    warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
    [ -z "$warn" ] || fail "$page: $warn"
    name=$(basename "$page"); name=${name%.*}
    lexgrog "$f" | grep -q ": \"$name - " || fail "lexgrog does not find NAME in $page: $(lexgrog "$f" 2>&1)"
    LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q 'EXIT STATUS\|FILES' ||
        fail "$page renders without its sections"
done
[ "$(MANPATH=$prefix/share/man man -w pwalk-engine)" = "$prefix/share/man/man1/pwalk-engine.1" ] ||
    fail "man -w pwalk-engine: $(MANPATH=$prefix/share/man man -w pwalk-engine 2>&1)"
[ "$(MANPATH=$prefix/share/man man -w 5 pwalk-pipeline)" = "$prefix/share/man/man5/pwalk-pipeline.5" ] ||
    fail "man -w 5 pwalk-pipeline"

# ---- DESTDIR: staged under it, pwalk.pc naming the real prefix ------------
stage=$work/stage
DESTDIR=$stage bash "$src/scripts/install.sh" --from "$src" --prefix=/opt/pwalk > /dev/null ||
    fail "install with DESTDIR"
[ -x "$stage/opt/pwalk/bin/pwalk-engine" ] || fail "DESTDIR: no $stage/opt/pwalk/bin/pwalk-engine"
[ "$(ls -A "$stage")" = opt ] || fail "DESTDIR: wrote outside PREFIX: $(ls -A "$stage")"
grep -qx 'prefix=/opt/pwalk' "$stage/opt/pwalk/lib/pkgconfig/pwalk.pc" ||
    fail "DESTDIR: pwalk.pc does not say prefix=/opt/pwalk"

# ---- a moved prefix still finds its plugins ---------------------------------
mv "$prefix" "$work/moved"
desc=$("$work"/moved/bin/pwalk-engine --describe csv 2>&1) || fail "moved prefix: $desc"
grep -qx "file: *$work/moved/lib/pwalk/plugins/csv.so" <<<"$desc" ||
    fail "moved prefix: --describe csv did not load from the moved prefix: $desc"
# and so does the library, wherever the loader finds it
embed_out=$(cd "$app" && LD_LIBRARY_PATH=$work/moved/lib ./embed "$tree" "$work/embed2.csv" 2>&1)
grep -qx "csv-plugin: $work/moved/lib/pwalk/plugins/csv.so" <<<"$embed_out" &&
    grep -qx "rows: $expected" <<<"$embed_out" ||
    fail "moved prefix: embed through LD_LIBRARY_PATH: $embed_out"

# ---- as root, a prefix others can write is refused (README, Installing) ---
if [ "$(id -u)" -eq 0 ]; then
    shared=$work/shared
    mkdir -m 0775 "$shared"
    warn=$(bash "$src/scripts/install.sh" --from "$src" --prefix="$shared/pwalk" 2>&1 >/dev/null)
    grep -q "will refuse plugins" <<<"$warn" || fail "no warning for a group-writable prefix: $warn"
    err=$("$shared"/pwalk/bin/pwalk-engine --describe csv 2>&1)
    rc=$?
    [ $rc -eq 2 ] && grep -q "refusing to load .* as root: directory $shared is writable by group" <<<"$err" ||
        fail "group-writable prefix as root: exit $rc: $err"
fi

if [ $failures -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "install test: ok"
