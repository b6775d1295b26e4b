// Hostile or mistaken input to the real binary: each must be refused before
// anything is written, with exit status 2 and ONE line naming the problem
// (administrators run this from cron and read one line in a mail).
//
// Every case runs in an empty working directory, with the pipeline's
// outputs pointing into it, and afterwards that directory must still be
// empty and stdout must be empty: "nothing written" includes temporary
// files and a header printed before the error was noticed.
#include <sys/stat.h>

#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace faults {
using namespace harness;
namespace {

class BadInput : public ::testing::Test {
  protected:
    void SetUp() override
    {
        ASSERT_FALSE(conf_.path().empty());
        ASSERT_FALSE(work_.path().empty());
        tree_ = conf_ / "tree";
        ASSERT_EQ(mkdir(tree_.c_str(), 0755), 0);
        WriteFile(tree_ + "/file", "x");
    }

    // The outputs every pipeline here would write, all inside work_.
    std::string Sinks(const std::string &plugin = "csv", const std::string &options = "")
    {
        return "sinks:\n  - name: inventory\n    plugin: " + plugin +
               "\n    options: {path: " + work_ / "report.csv" + options + "}\n";
    }
    std::string Scan(const std::string &extra = "")
    {
        return "scan:\n  errors: " + work_ / "errors.csv" + "\n" + extra;
    }
    std::string Pipeline(const std::string &text)
    {
        std::string path = conf_ / "pipeline.yaml";
        WriteFile(path, text);
        return path;
    }

    // Run, then check the contract; returns the message line.
    std::string ExpectRefused(const std::vector<std::string> &args,
                              const Options &o = Options())
    {
        Options opt = o;
        opt.cwd = work_.path();
        Result r = RunEngine(args, opt);
        EXPECT_FALSE(r.signaled) << r.Describe();
        EXPECT_EQ(r.status, 2) << r.Describe();
        EXPECT_EQ(r.out, "") << "something was written to stdout";
        EXPECT_EQ(ListDir(work_.path()), std::vector<std::string>{})
            << "files were left in the output directory";
        // One message line; the "Try --help" hint of a usage error is not
        // a second message.
        std::vector<std::string> lines;
        for (const std::string &l : Lines(r.err))
            if (l != "Try 'pwalk-engine --help'.")
                lines.push_back(l);
        EXPECT_EQ(lines.size(), 1u) << "not one line:\n" << r.err;
        std::string msg = lines.empty() ? "" : lines[0];
        EXPECT_EQ(msg.rfind("pwalk-engine: ", 0), 0u) << msg;
        for (unsigned char c : msg)
            EXPECT_TRUE(c >= 0x20 && c != 0x7f) << "control byte in: " << msg;
        return msg;
    }

    TempDir conf_{"badin-conf"}, work_{"badin-work"};
    std::string tree_;
};

#define EXPECT_MENTIONS(msg, text) \
    EXPECT_NE((msg).find(text), std::string::npos) << "message does not name " << (text) << ": " << (msg)

TEST_F(BadInput, MalformedYaml)
{
    std::string p = Pipeline("version: 1\n" + Scan() + "sinks:\n  - name: \"inventory\n    plugin: [csv\n");
    std::string msg = ExpectRefused({"-c", p, tree_});
    EXPECT_MENTIONS(msg, "pipeline.yaml:");
}

TEST_F(BadInput, TabsAndBinaryGarbage)
{
    std::string garbage = "version: 1\n\t- \x01\x02\xff\xfe: [\n";
    std::string p = Pipeline(garbage);
    std::string msg = ExpectRefused({"-c", p, tree_});
    EXPECT_MENTIONS(msg, "pipeline.yaml");
}

TEST_F(BadInput, WrongTypes)
{
    struct Case {
        std::string scan, sinks_opts, names;
    } cases[] = {
        {"  threads: [4]\n", "", "threads"},
        {"  threads: many\n", "", "threads"},
        {"  max_depth: -1\n", "", "max_depth"},
        {"  one_file_system: maybe\n", "", "one_file_system"},
        {"  roots: {a: b}\n", "", "roots"},
        {"", ", header: sometimes", "header"},
        {"", ", escape: rot13", "escape"},
        {"", ", buffer_kib: lots", "buffer_kib"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.names);
        std::string p = Pipeline("version: 1\n" + Scan(c.scan) + Sinks("csv", c.sinks_opts));
        std::string msg = ExpectRefused({"-c", p, tree_});
        EXPECT_MENTIONS(msg, c.names);
    }
}

// The file: 200k nested '[' kept a core busy for a minute before it
// was refused (libyaml's scanner is quadratic in the nesting).  The cap is
// reached at the 65th '['; the timeout only turns a regression into a
// failure instead of a stuck suite.
TEST_F(BadInput, DeeplyNestedYamlIsRefusedAtTheCap)
{
    std::string p = Pipeline(std::string(200000, '['));
    Options o;
    o.timeout = 20;
    std::string msg = ExpectRefused({"-c", p, tree_}, o);
    EXPECT_EQ(msg, "pwalk-engine: " + p + ":1:65: nested deeper than 64 levels (the limit for a "
                   "pipeline)");
}

// `path: ~` is YAML's null: it created a file named '~' in the working
// directory (which must stay empty here), `path:` one named ''.
TEST_F(BadInput, NullOptionValueIsATypeError)
{
    for (const char *v : {"~", "null", ""}) {
        SCOPED_TRACE(v);
        std::string p = Pipeline("version: 1\n" + Scan() +
                                 "sinks:\n  - name: inventory\n    plugin: csv\n"
                                 "    options:\n      path: " + v + "\n");
        std::string msg = ExpectRefused({"-c", p, tree_});
        EXPECT_MENTIONS(msg, "sink 'inventory': option 'path' must be a value, not null");
    }
}

// A name whose compression suffix contradicts the data: plain CSV named
// .zst, zstd named .gz.  Refused up front, naming the right name.
TEST_F(BadInput, PathSuffixContradictingTheCodec)
{
    std::string p = Pipeline("version: 1\n" + Scan() +
                             "sinks:\n  - name: inventory\n    plugin: csv\n"
                             "    options: {path: " + work_ / "r.csv.zst" + "}\n");
    EXPECT_EQ(ExpectRefused({"-c", p, tree_}),
              "pwalk-engine: sink 'inventory': path '" + work_ / "r.csv.zst" +
                  "' ends in '.zst', but plugin csv writes plain CSV: name it '" +
                  work_ / "r.csv" + "', or use a compressing plugin (csv-zstd, csv-gzip, "
                  "csv-lz4)");
    p = Pipeline("version: 1\n" + Scan() +
                 "sinks:\n  - name: inventory\n    plugin: csv-zstd\n"
                 "    options: {path: " + work_ / "r.csv.gz" + "}\n");
    EXPECT_EQ(ExpectRefused({"-c", p, tree_}),
              "pwalk-engine: sink 'inventory': path '" + work_ / "r.csv.gz" +
                  "' ends in '.gz', but this sink writes zstd data: name it '" +
                  work_ / "r.csv.zst" + "' (a name ending in .csv gets '.zst' added)");
}

// csv-zstd writes r.csv as r.csv.zst: a second sink naming r.csv.zst would
// be the same file, the later rename silently winning.
TEST_F(BadInput, TwoNamesForOneCompressedFile)
{
    std::string p = Pipeline("version: 1\n" + Scan() +
                             "sinks:\n  - {name: one, plugin: csv-zstd, options: {path: " +
                             work_ / "r.csv" + "}}\n  - {name: two, plugin: csv-zstd, "
                             "options: {path: " + work_ / "r.csv.zst" + "}}\n");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}),
                    "sink 'two': path '" + work_ / "r.csv.zst" + "' is also an output of sink "
                    "'one'");
}

TEST_F(BadInput, WrongVersion)
{
    std::string p = Pipeline("version: 2\n" + Scan() + Sinks());
    std::string msg = ExpectRefused({"-c", p, tree_});
    EXPECT_MENTIONS(msg, "version");
}

TEST_F(BadInput, UnknownKeys)
{
    std::string p = Pipeline("version: 1\nscna: {}\n" + Scan() + Sinks());
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}), "scna");
    p = Pipeline("version: 1\n" + Scan("  thread: 4\n") + Sinks());
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}), "thread");
    p = Pipeline("version: 1\n" + Scan() + Sinks("csv", ", colour: red"));
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}), "colour");
    p = Pipeline("version: 1\n" + Scan() + Sinks() + "    extra: 1\n");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}), "extra");
}

TEST_F(BadInput, UnknownPlugin)
{
    std::string p = Pipeline("version: 1\n" + Scan() + Sinks("no-such-plugin"));
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}), "no-such-plugin");
}

TEST_F(BadInput, SharedObjectThatIsNotAPlugin)
{
    std::string p = Pipeline("version: 1\nplugin_path: [" + FixtureDir() + "]\n" + Scan() +
                             Sinks("notplugin"));
    std::string msg = ExpectRefused({"-c", p, tree_});
    EXPECT_MENTIONS(msg, "notplugin");
}

TEST_F(BadInput, FileThatIsNotEvenAnElfObject)
{
    std::string so = conf_ / "junk.so";
    WriteFile(so, "#!/bin/sh\necho this is not a shared object\n");
    chmod(so.c_str(), 0755);
    std::string p = Pipeline("version: 1\n" + Scan() + Sinks(so));
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}), "junk.so");
}

TEST_F(BadInput, PluginOfAnotherAbiMajor)
{
    std::string p = Pipeline("version: 1\nplugin_path: [" + FixtureDir() + "]\n" + Scan() +
                             Sinks("badmajor"));
    std::string msg = ExpectRefused({"-c", p, tree_});
    EXPECT_MENTIONS(msg, "badmajor");
    EXPECT_MENTIONS(msg, "2");
}

// As root, a plugin that another user could have replaced would run that
// user's code as root: refused, whether the file or its directory is
// writable by others.
TEST_F(BadInput, PluginWritableByOthersAsRoot)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root";
    std::string src = ReadFile(FixtureDir() + "/failsink.so");
    ASSERT_FALSE(src.empty());
    std::string dir = conf_ / "plugins";
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    std::string so = dir + "/failsink.so";
    WriteFile(so, src);

    // the same file is fine while only root can write it...
    ASSERT_EQ(chmod(so.c_str(), 0755), 0);
    std::string p = Pipeline("version: 1\nplugin_path: [" + dir + "]\n" + Scan() +
                             "sinks:\n  - name: s\n    plugin: failsink\n");
    Options o;
    o.cwd = work_.path();
    Result ok = RunEngine({"-c", p, tree_}, o);
    EXPECT_EQ(ok.status, 0) << ok.Describe();
    RemoveTree(work_ / "errors.csv");

    // ...but not when others may write it
    ASSERT_EQ(chmod(so.c_str(), 0666), 0);
    std::string msg = ExpectRefused({"-c", p, tree_});
    EXPECT_MENTIONS(msg, "failsink.so");
    EXPECT_MENTIONS(msg, "writable");

    // or replace it through its directory
    ASSERT_EQ(chmod(so.c_str(), 0755), 0);
    ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
    msg = ExpectRefused({"-c", p, tree_});
    EXPECT_MENTIONS(msg, "writable");
}

// Issue 13's attack: a sticky world-writable directory (like /tmp) in the
// plugin path, where a user plants a symlink to a root-owned .so.  As root
// the engine refuses before loading anything, whether the directory comes
// from plugin_path or from $PWALK_PLUGIN_PATH.
TEST_F(BadInput, PlantedPluginSymlinkAsRoot)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root";
    std::string drop = conf_ / "drop";
    ASSERT_EQ(mkdir(drop.c_str(), 0755), 0);
    ASSERT_EQ(chmod(drop.c_str(), 01777), 0);
    std::string link = drop + "/failsink.so";
    ASSERT_EQ(symlink((FixtureDir() + "/failsink.so").c_str(), link.c_str()), 0);
    ASSERT_EQ(lchown(link.c_str(), 39077, 39077), 0);  // another user's
    std::string sinks = Scan() + "sinks:\n  - name: s\n    plugin: failsink\n";
    std::string want = "plugin 'failsink': refusing to load " + link + " as root: directory ";

    std::string msg = ExpectRefused({"-c", Pipeline("version: 1\nplugin_path: [" + drop +
                                                    "]\n" + sinks),
                                           tree_});
    EXPECT_MENTIONS(msg, want);
    EXPECT_MENTIONS(msg, "is writable by group and others (mode 1777)");

    Options o;
    o.env = {"PWALK_PLUGIN_PATH=" + drop};
    msg = ExpectRefused({"-c", Pipeline("version: 1\n" + sinks), tree_}, o);
    EXPECT_MENTIONS(msg, want);
}

// A relative `plugin:` path is relative to the pipeline file, like
// plugin_path -- not to the directory cron happens to start the scan in.
TEST_F(BadInput, RelativePluginPathFollowsThePipelineFile)
{
    std::string dir = conf_ / "plugins";
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    WriteFile(dir + "/failsink.so", ReadFile(FixtureDir() + "/failsink.so"));
    ASSERT_EQ(chmod((dir + "/failsink.so").c_str(), 0755), 0);
    for (std::string plugin : {"plugins/failsink.so", "./plugins/../plugins/failsink.so"}) {
        SCOPED_TRACE(plugin);
        std::string p = Pipeline("version: 1\n" + Scan() + "sinks:\n  - name: s\n    plugin: " +
                                 plugin + "\n");
        Options o;
        o.cwd = work_.path();  // not the pipeline's directory
        Result r = RunEngine({"-c", p, tree_}, o);
        EXPECT_EQ(r.status, 0) << r.Describe();
        RemoveTree(work_ / "errors.csv");
    }
    // a missing one is named where it was looked for
    std::string p = Pipeline("version: 1\n" + Scan() +
                             "sinks:\n  - name: s\n    plugin: nothere/failsink.so\n");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}), conf_ / "nothere/failsink.so");
}

TEST_F(BadInput, MissingRoot)
{
    std::string p = Pipeline("version: 1\n" + Scan() + Sinks());
    std::string missing = conf_ / "no-such-dir";
    std::string msg = ExpectRefused({"-c", p, tree_, missing});
    EXPECT_MENTIONS(msg, missing);
    // and without a pipeline, as pwalk
    msg = ExpectRefused({missing});
    EXPECT_MENTIONS(msg, missing);
}

TEST_F(BadInput, BadNumbersOnTheCommandLine)
{
    struct Case {
        std::vector<std::string> args;
        const char *names;
    } cases[] = {
        {{"--threads", "0"}, "--threads"},
        {{"--threads", "x"}, "--threads"},
        {{"--threads", "-3"}, "--threads"},
        {{"--threads", "4x"}, "--threads"},
        {{"--threads", "99999999999999999999"}, "--threads"},
        {{"-t", ""}, "--threads"},
        {{"--maxthreads", "0"}, "--threads"},
        {{"--depth", "-1"}, "--depth"},
        {{"--depth", "1e3"}, "--depth"},
        {{"-d", "0x10"}, "--depth"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(Join(c.args, " "));
        std::vector<std::string> args = c.args;
        args.push_back(tree_);
        EXPECT_MENTIONS(ExpectRefused(args), c.names);
        // the same with a pipeline
        std::string p = Pipeline("version: 1\n" + Scan() + Sinks());
        args.insert(args.begin(), {"-c", p});
        EXPECT_MENTIONS(ExpectRefused(args), c.names);
    }
}

TEST_F(BadInput, BadSetAssignments)
{
    std::string p = Pipeline("version: 1\n" + Scan() + Sinks());
    EXPECT_MENTIONS(ExpectRefused({"-c", p, "--set", "scan.threads=0", tree_}), "threads");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, "--set", "nosink.path=x", tree_}), "nosink");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, "--set", "inventory.escape=none", tree_}),
                    "escape");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, "--set", "noequals", tree_}), "noequals");
}

// 2^64 + 1 written as a thread count or depth must not wrap to 1 or 0.
TEST_F(BadInput, HugeNumbersDoNotWrap)
{
    std::string p = Pipeline("version: 1\n" + Scan("  threads: 18446744073709551617\n") + Sinks());
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}), "threads");
    p = Pipeline("version: 1\n" + Scan("  max_depth: 18446744073709551616\n") + Sinks());
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}), "max_depth");
    p = Pipeline("version: 1\n" + Scan() + Sinks());
    EXPECT_MENTIONS(ExpectRefused({"-c", p, "--set", "scan.threads=18446744073709551617", tree_}),
                    "threads");
}

TEST_F(BadInput, SlurmGarbageWithThreadsAuto)
{
    std::string p = Pipeline("version: 1\n" + Scan("  threads: auto\n") + Sinks());
    for (const char *v : {"garbage", "8x", "-4", "0", "4(x0)", "4(x2", " 8", "8,"}) {
        SCOPED_TRACE(v);
        Options o;
        o.unset = {"SLURM_CPUS_PER_TASK"};
        o.env = {std::string("SLURM_CPUS_ON_NODE=") + v};
        std::string msg = ExpectRefused({"-c", p, tree_}, o);
        EXPECT_MENTIONS(msg, "SLURM_CPUS_ON_NODE");
        // the compat command line uses threads auto too
        EXPECT_MENTIONS(ExpectRefused({tree_}, o), "SLURM_CPUS_ON_NODE");
    }
    // an explicit --threads does not consult SLURM at all
    Options o;
    o.cwd = work_.path();
    o.env = {"SLURM_CPUS_ON_NODE=garbage"};
    Result r = RunEngine({"-t", "2", tree_}, o);
    EXPECT_EQ(r.status, 0) << r.Describe();
}

// ABI 1.2: a plugin declares which options are files it writes
// (PWALK_OPTION_OUTPUT), and the same-file check covers them whatever their
// name -- here destsink's `dest`.
TEST_F(BadInput, DeclaredOutputNotNamedPathIsChecked)
{
    std::string head = "version: 1\nplugin_path: [" + FixtureDir() + "]\n" + Scan();
    std::string p = Pipeline(head + Sinks() + "  - {name: count, plugin: destsink, options: "
                             "{dest: " + work_ / "report.csv" + "}}\n");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}),
                    "sink 'count': dest '" + work_ / "report.csv" +
                        "' is also an output of sink 'inventory'");
    p = Pipeline(head + "sinks:\n  - {name: count, plugin: destsink, options: {dest: " +
                 work_ / "errors.csv" + "}}\n");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}),
                    "sink 'count': dest '" + work_ / "errors.csv" +
                        "' is also the scan's errors file");
    p = Pipeline(head + "sinks:\n  - {name: one, plugin: destsink, options: {dest: " +
                 work_ / "n.txt" + "}}\n  - {name: two, plugin: destsink, options: {dest: " +
                 work_.path() + "/./n.txt}}\n");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}),
                    "sink 'two': dest '" + work_.path() + "/./n.txt' is also an output of "
                    "sink 'one'");
}

// ...and an option it does not declare is no output, even when called path:
// destsink's `path` is a label, so naming the report there is no collision.
TEST_F(BadInput, UndeclaredOptionNamedPathIsNoOutput)
{
    std::string p = Pipeline("version: 1\nplugin_path: [" + FixtureDir() + "]\n" + Scan() +
                             Sinks() + "  - {name: count, plugin: destsink, options: {dest: " +
                             work_ / "count.txt" + ", path: " + work_ / "report.csv" + "}}\n");
    Options o;
    o.cwd = work_.path();
    Result r = RunEngine({"-c", p, tree_}, o);
    EXPECT_EQ(r.status, 0) << r.Describe();
    EXPECT_EQ(ReadFile(work_ / "count.txt"), "2 entries\n"); // the root and its file
    EXPECT_EQ(ReadFile(work_ / "report.csv").substr(0, 6), "inode,") << r.Describe();
}

// A plugin built before 1.2 (olddest: destsink declaring abi_minor 1) had a
// reserved field where the flags are now: it still loads, the field is not
// read, and its options named path and log are outputs, as they always
// were.
TEST_F(BadInput, OlderMinorPluginLoadsAndItsPathIsStillChecked)
{
    std::string head = "version: 1\nplugin_path: [" + FixtureDir() + "]\n" + Scan();
    std::string p = Pipeline(head + Sinks() + "  - {name: old, plugin: olddest, options: "
                             "{dest: " + work_ / "old.txt" + ", path: " + work_ / "report.csv" +
                             "}}\n");
    EXPECT_MENTIONS(ExpectRefused({"-c", p, tree_}),
                    "sink 'old': path '" + work_ / "report.csv" +
                        "' is also an output of sink 'inventory'");
    p = Pipeline(head + Sinks() + "  - {name: old, plugin: olddest, options: {dest: " +
                 work_ / "old.txt" + "}}\n");
    Options o;
    o.cwd = work_.path();
    Result r = RunEngine({"-c", p, tree_}, o);
    EXPECT_EQ(r.status, 0) << r.Describe();
    EXPECT_EQ(ReadFile(work_ / "old.txt"), "2 entries\n");
}

TEST_F(BadInput, MessagesEscapeControlBytes)
{
    // a sink name with an escape sequence must not reach the terminal raw
    std::string p = Pipeline("version: 1\n" + Scan() +
                             "sinks:\n  - name: \"\\e[31mred\\nline\"\n    plugin: no-such\n");
    ExpectRefused({"-c", p, tree_});
    std::string missing = conf_ / "no\x1b[31m\nroot";
    ExpectRefused({missing});
}

}  // namespace
}  // namespace faults
