"""Lay plugin .so files out as the installed package has them:
pwalk/plugins/NAME/NAME.so beside the extension, where pwalk looks."""

def _plugin_tree_impl(ctx):
    outs = []
    for f in ctx.files.plugins:
        if not f.basename.endswith(".so"):
            continue
        name = f.basename[:-len(".so")]
        if name in ctx.attr.exclude:
            continue
        out = ctx.actions.declare_file("%s/%s/%s.so" % (ctx.attr.dir, name, name))
        ctx.actions.run_shell(
            inputs = [f],
            outputs = [out],
            command = "cp -f \"$1\" \"$2\"",
            arguments = [f.path, out.path],
            mnemonic = "PwalkPluginCopy",
        )
        outs.append(out)
    return [DefaultInfo(files = depset(outs), runfiles = ctx.runfiles(files = outs))]

plugin_tree = rule(
    implementation = _plugin_tree_impl,
    attrs = {
        "plugins": attr.label_list(allow_files = True),
        "dir": attr.string(default = "pwalk/plugins"),
        "exclude": attr.string_list(),
    },
)
