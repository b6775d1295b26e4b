"""static_library: libpwalk.a for embedders who link statically.

One relocatable object of everything the library links (its own objects and
its transitive cc_library deps), with every global symbol but the public
pwalk_* made local (objcopy), in an archive: a program linking libpwalk.a
sees the same API as libpwalk.so's version script exports
(engine/libpwalk.lds), and none of walk_*, cfg_*, csvrow_*, ... that could
collide with its own names.  Bazel 4.2 has no rule for this
(cc_shared_library and friends came later).
"""

def _static_library_impl(ctx):
    archives = []
    for li in ctx.attr.dep[CcInfo].linking_context.linker_inputs.to_list():
        for lib in li.libraries:
            a = lib.pic_static_library or lib.static_library
            if a:
                archives.append(a)
    out = ctx.actions.declare_file(ctx.attr.name)
    whole = ctx.actions.declare_file(ctx.attr.name + ".o")
    ctx.actions.run_shell(
        inputs = archives,
        outputs = [out, whole],
        command = " && ".join([
            'ld -r -o "$1" --whole-archive "${@:3}"',
            "objcopy --wildcard --keep-global-symbol='%s' \"$1\"" % ctx.attr.keep,
            'rm -f "$2"',
            'ar rcsD "$2" "$1"',
        ]),
        arguments = [whole.path, out.path] + [a.path for a in archives],
        mnemonic = "StaticLibrary",
        progress_message = "Archiving %s" % out.short_path,
    )
    # as data (//:install), the archive is in the runfiles
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

static_library = rule(
    implementation = _static_library_impl,
    attrs = {
        "dep": attr.label(providers = [CcInfo], mandatory = True),
        "keep": attr.string(default = "pwalk_*"),
    },
    doc = "An archive of dep and its deps with only `keep` symbols global.",
)
