// The YAML pipeline: what loads, the defaults, every rejection with its exact
// one-line message and FILE:LINE:COL, and the command-line edits (--set,
// roots, built-in sinks).  Run under ASan to also check that failed loads
// leak nothing.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "engine/config.h"
}

#include "tests/harness/files.h"

namespace {

// Owns a pipeline so that every test path frees it, even on ASSERT failure.
struct Pipeline {
    cfg_pipeline p;
    Pipeline() { cfg_init_defaults(&p); }
    ~Pipeline() { cfg_free(&p); }
    Pipeline(const Pipeline &) = delete;
    Pipeline &operator=(const Pipeline &) = delete;
    cfg_pipeline *operator->() { return &p; }
};

std::string Str(const char *s) { return s ? std::string(s) : std::string("(null)"); }

std::vector<std::string> List(char **v, size_t n) {
    std::vector<std::string> out;
    for (size_t i = 0; i < n; i++)
        out.push_back(v[i]);
    return out;
}

using Strings = std::vector<std::string>;

// A failed load must leave the defaults behind, freeable.
void ExpectDefaults(const cfg_pipeline &p) {
    EXPECT_EQ(Str(p.source), "<built-in>");
    EXPECT_EQ(p.version, 1);
    EXPECT_EQ(p.allow_mutation, 0);
    EXPECT_EQ(p.scan.root_count, 0u);
    EXPECT_EQ(p.scan.roots, nullptr);
    EXPECT_EQ(p.scan.threads, 0);
    EXPECT_EQ(p.scan.one_file_system, 0);
    EXPECT_EQ(p.scan.skip_snapshots, 1);
    EXPECT_EQ(List(p.scan.snapshot_names, p.scan.snapshot_name_count), Strings{".snapshot"});
    EXPECT_EQ(p.scan.exclude_count, 0u);
    EXPECT_EQ(p.scan.max_depth, 0);
    EXPECT_EQ(p.scan.errors_path, nullptr);
    EXPECT_EQ(p.scan.mode, -1);  // 0600 as root, else the umask
    EXPECT_EQ(p.scan.max_threads, 256);
    EXPECT_EQ(p.scan.max_ops, 0);
    EXPECT_EQ(p.scan.adaptive, 0);
    EXPECT_EQ(p.scan.lazy_stat, 0);
    EXPECT_EQ(p.scan.io_idle, 0);
    EXPECT_EQ(p.scan.checkpoint, nullptr);
    EXPECT_EQ(p.scan.checkpoint_every_ms, 300000);  // 5m
    EXPECT_EQ(p.scan.time_limit_ms, 0);             // none
    EXPECT_EQ(p.plugin_path_count, 0u);
    EXPECT_EQ(p.sink_count, 0u);
    EXPECT_EQ(p.sinks, nullptr);
}

// Load text that must be rejected; returns the message.
std::string LoadError(const std::string &yaml, const char *name = "t.yaml") {
    Pipeline p;
    cfg_free(&p.p);  // the loader takes an uninitialised struct
    char err[1024];
    std::memset(err, 'X', sizeof err);
    int rc = cfg_load_string(yaml.data(), yaml.size(), name, &p.p, err, sizeof err);
    EXPECT_EQ(rc, -1) << yaml;
    if (rc != -1)
        return "(loaded)";
    ExpectDefaults(p.p);
    std::string msg(err);
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
}

int Load(const std::string &yaml, cfg_pipeline *out, std::string *msg = nullptr,
         const char *name = "t.yaml") {
    char err[1024] = "";
    int rc = cfg_load_string(yaml.data(), yaml.size(), name, out, err, sizeof err);
    if (msg)
        *msg = err;
    EXPECT_EQ(rc, 0) << err;
    return rc;
}

const cfg_option *Opt(const cfg_sink &s, const char *key) {
    for (size_t i = 0; i < s.option_count; i++)
        if (std::strcmp(s.options[i].key, key) == 0)
            return &s.options[i];
    return nullptr;
}

void ExpectMark(const cfg_mark &m, int line, int column) {
    EXPECT_EQ(m.line, line);
    EXPECT_EQ(m.column, column);
}

const char kMinimal[] = "version: 1\nsinks: [{plugin: csv}]\n";

// ---- defaults and a full pipeline ---------------------------------------------

TEST(ConfigDefaults, InitDefaults) {
    cfg_pipeline p;
    std::memset(&p, 0x5a, sizeof p);
    cfg_init_defaults(&p);
    ExpectDefaults(p);
    cfg_free(&p);
    cfg_free(&p);  // zeroed by the first call: harmless
    EXPECT_EQ(p.source, nullptr);
    EXPECT_EQ(p.scan.snapshot_names, nullptr);
    cfg_free(nullptr);
}

TEST(ConfigLoad, FullPipelineEveryField) {
    const std::string yaml =
        "# every key of schema version 1\n"                   // 1
        "version: 1\n"                                        // 2
        "allow_mutation: yes\n"                               // 3
        "scan:\n"                                             // 4
        "  roots: [/data, \"/home/a b\"]\n"                   // 5
        "  threads: 8\n"                                      // 6
        "  one_file_system: true\n"                           // 7
        "  skip_snapshots: off\n"                             // 8
        "  snapshot_names: [.snapshot, .zfs]\n"               // 9
        "  exclude: [/data/scratch, \"*.tmp\"]\n"             // 10
        "  max_depth: 3\n"                                    // 11
        "  errors: errs.csv\n"                                // 12
        "plugin_path: [plugins, /opt/pwalk]\n"                // 13
        "sinks:\n"                                            // 14
        "  - name: inventory\n"                               // 15
        "    plugin: csv\n"                                   // 16
        "    options: {path: scan.csv, header: true}\n"       // 17
        "  - plugin: ./libtally.so\n"                         // 18
        "    options:\n"                                      // 19
        "      columns: [size, uid]\n"                        // 20
        "      label: \"x\"\n";                               // 21
    cfg_pipeline p;
    ASSERT_EQ(Load(yaml, &p, nullptr, "audit.yaml"), 0);
    EXPECT_EQ(Str(p.source), "audit.yaml");
    EXPECT_EQ(p.version, 1);
    EXPECT_EQ(p.allow_mutation, 1);
    EXPECT_EQ(List(p.scan.roots, p.scan.root_count), (Strings{"/data", "/home/a b"}));
    EXPECT_EQ(p.scan.threads, 8);
    EXPECT_EQ(p.scan.one_file_system, 1);
    EXPECT_EQ(p.scan.skip_snapshots, 0);
    EXPECT_EQ(List(p.scan.snapshot_names, p.scan.snapshot_name_count),
              (Strings{".snapshot", ".zfs"}));
    EXPECT_EQ(List(p.scan.excludes, p.scan.exclude_count), (Strings{"/data/scratch", "*.tmp"}));
    EXPECT_EQ(p.scan.max_depth, 3);
    EXPECT_EQ(Str(p.scan.errors_path), "errs.csv");
    EXPECT_EQ(List(p.plugin_path, p.plugin_path_count), (Strings{"plugins", "/opt/pwalk"}));

    ASSERT_EQ(p.sink_count, 2u);
    const cfg_sink &a = p.sinks[0];
    EXPECT_EQ(Str(a.name), "inventory");
    EXPECT_EQ(Str(a.plugin), "csv");
    ExpectMark(a.mark, 15, 5);
    ASSERT_EQ(a.option_count, 2u);
    EXPECT_EQ(Str(a.options[0].key), "path");  // document order is kept
    EXPECT_EQ(Str(a.options[1].key), "header");
    const cfg_option *path = Opt(a, "path");
    ASSERT_NE(path, nullptr);
    EXPECT_EQ(path->is_list, 0);
    EXPECT_EQ(Str(path->scalar), "scan.csv");
    EXPECT_EQ(path->items, nullptr);
    ExpectMark(path->key_mark, 17, 15);
    ExpectMark(path->mark, 17, 21);
    const cfg_option *header = Opt(a, "header");
    ASSERT_NE(header, nullptr);
    EXPECT_EQ(Str(header->scalar), "true");  // typed later, against the plugin's schema
    ExpectMark(header->key_mark, 17, 31);
    ExpectMark(header->mark, 17, 39);

    const cfg_sink &b = p.sinks[1];
    EXPECT_EQ(Str(b.name), "./libtally.so");  // defaults to the plugin
    EXPECT_EQ(Str(b.plugin), "./libtally.so");
    ExpectMark(b.mark, 18, 5);
    ASSERT_EQ(b.option_count, 2u);
    const cfg_option *cols = Opt(b, "columns");
    ASSERT_NE(cols, nullptr);
    EXPECT_EQ(cols->is_list, 1);
    EXPECT_EQ(cols->scalar, nullptr);
    EXPECT_EQ(List(cols->items, cols->item_count), (Strings{"size", "uid"}));
    ExpectMark(cols->key_mark, 20, 7);
    ExpectMark(cols->mark, 20, 16);
    const cfg_option *label = Opt(b, "label");
    ASSERT_NE(label, nullptr);
    EXPECT_EQ(Str(label->scalar), "x");
    ExpectMark(label->mark, 21, 14);  // a quoted scalar starts at its quote
    cfg_free(&p);
}

TEST(ConfigLoad, MinimalPipelineKeepsDefaults) {
    cfg_pipeline p;
    ASSERT_EQ(Load(kMinimal, &p), 0);
    EXPECT_EQ(Str(p.source), "t.yaml");
    EXPECT_EQ(p.allow_mutation, 0);
    EXPECT_EQ(p.scan.root_count, 0u);  // the command line gives roots
    EXPECT_EQ(p.scan.threads, 0);
    EXPECT_EQ(p.scan.skip_snapshots, 1);
    EXPECT_EQ(List(p.scan.snapshot_names, p.scan.snapshot_name_count), Strings{".snapshot"});
    EXPECT_EQ(p.scan.exclude_count, 0u);
    EXPECT_EQ(p.scan.errors_path, nullptr);
    ASSERT_EQ(p.sink_count, 1u);
    EXPECT_EQ(Str(p.sinks[0].name), "csv");
    EXPECT_EQ(p.sinks[0].option_count, 0u);
    ExpectMark(p.sinks[0].mark, 2, 9);
    cfg_free(&p);
}

TEST(ConfigLoad, SeveralSinks) {
    const std::string yaml =
        "version: 1\n"
        "sinks:\n"
        "  - {name: a, plugin: csv, options: {path: a.csv}}\n"
        "  - {name: b, plugin: csv, options: {path: b.csv, escape: dey}}\n"
        "  - plugin: /opt/pwalk/plugins/libjson.so\n"
        "  - name: empty-options\n"
        "    plugin: tally\n"
        "    options: {}\n"
        "  - name: null-options\n"
        "    plugin: tally\n"
        "    options:\n";
    cfg_pipeline p;
    ASSERT_EQ(Load(yaml, &p), 0);
    ASSERT_EQ(p.sink_count, 5u);
    EXPECT_EQ(Str(p.sinks[0].name), "a");
    EXPECT_EQ(Str(Opt(p.sinks[0], "path")->scalar), "a.csv");
    EXPECT_EQ(Str(p.sinks[1].name), "b");
    EXPECT_EQ(p.sinks[1].option_count, 2u);
    EXPECT_EQ(Str(Opt(p.sinks[1], "escape")->scalar), "dey");
    EXPECT_EQ(Str(p.sinks[2].name), "/opt/pwalk/plugins/libjson.so");
    EXPECT_EQ(Str(p.sinks[3].name), "empty-options");
    EXPECT_EQ(p.sinks[3].option_count, 0u);
    EXPECT_EQ(Str(p.sinks[4].name), "null-options");
    EXPECT_EQ(p.sinks[4].option_count, 0u);
    ExpectMark(p.sinks[0].mark, 3, 5);
    ExpectMark(p.sinks[3].mark, 6, 5);
    cfg_free(&p);
}

TEST(ConfigLoad, OptionValuesScalarAndList) {
    const std::string yaml =
        "version: 1\n"                  // 1
        "sinks:\n"                      // 2
        "  - plugin: csv\n"             // 3
        "    options:\n"                // 4
        "      path: '-'\n"             // 5
        "      fields:\n"               // 6
        "        - inode\n"             // 7
        "        - \"file name\"\n"     // 8
        "      none: []\n"              // 9
        "      empty: ''\n"            // 10
        "      level: 3\n";             // 11
    cfg_pipeline p;
    ASSERT_EQ(Load(yaml, &p), 0);
    const cfg_sink &s = p.sinks[0];
    ASSERT_EQ(s.option_count, 5u);
    const cfg_option *path = Opt(s, "path");
    EXPECT_EQ(Str(path->scalar), "-");
    ExpectMark(path->key_mark, 5, 7);
    ExpectMark(path->mark, 5, 13);
    const cfg_option *fields = Opt(s, "fields");
    EXPECT_EQ(fields->is_list, 1);
    EXPECT_EQ(List(fields->items, fields->item_count), (Strings{"inode", "file name"}));
    ExpectMark(fields->key_mark, 6, 7);
    ExpectMark(fields->mark, 7, 9);  // a block sequence starts at its first '-'
    const cfg_option *none = Opt(s, "none");
    EXPECT_EQ(none->is_list, 1);
    EXPECT_EQ(none->item_count, 0u);
    const cfg_option *empty = Opt(s, "empty");
    EXPECT_EQ(empty->is_list, 0);
    EXPECT_EQ(Str(empty->scalar), "");
    EXPECT_EQ(Str(Opt(s, "level")->scalar), "3");
    ExpectMark(Opt(s, "level")->mark, 11, 14);
    cfg_free(&p);
}

TEST(ConfigLoad, ListShapes) {
    const std::string yaml =
        "version: 1\n"
        "scan:\n"
        "  roots: /data            # a single string is one root\n"
        "  snapshot_names: []      # none: nothing is a snapshot\n"
        "  exclude:                # null: none\n"
        "plugin_path: ~\n"
        "sinks: [{plugin: csv}]\n";
    cfg_pipeline p;
    ASSERT_EQ(Load(yaml, &p), 0);
    EXPECT_EQ(List(p.scan.roots, p.scan.root_count), Strings{"/data"});
    EXPECT_EQ(p.scan.snapshot_name_count, 0u);
    EXPECT_EQ(p.scan.exclude_count, 0u);
    EXPECT_EQ(p.plugin_path_count, 0u);
    cfg_free(&p);
}

TEST(ConfigLoad, NullScanAndErrorsMeanDefaults) {
    cfg_pipeline p;
    ASSERT_EQ(Load("version: 1\nscan:\nsinks: [{plugin: csv}]\n", &p), 0);
    EXPECT_EQ(p.scan.skip_snapshots, 1);
    cfg_free(&p);
    ASSERT_EQ(Load("version: 1\nscan: {errors: ~}\nsinks: [{plugin: csv}]\n", &p), 0);
    EXPECT_EQ(p.scan.errors_path, nullptr);
    cfg_free(&p);
}

TEST(ConfigLoad, BooleanSpellings) {
    struct {
        const char *text;
        int value;
    } cases[] = {{"true", 1}, {"True", 1}, {"TRUE", 1}, {"yes", 1}, {"YES", 1}, {"on", 1},
                 {"On", 1},   {"false", 0}, {"False", 0}, {"no", 0}, {"NO", 0}, {"off", 0},
                 {"OFF", 0},  {"\"yes\"", 1}};
    for (const auto &c : cases) {
        // the opposite of the default, so that each spelling shows
        std::string yaml = std::string("version: 1\nscan: {skip_snapshots: ") + c.text +
                           ", one_file_system: " + c.text + "}\nallow_mutation: " + c.text +
                           "\nsinks: [{plugin: csv}]\n";
        cfg_pipeline p;
        ASSERT_EQ(Load(yaml, &p), 0) << c.text;
        EXPECT_EQ(p.scan.skip_snapshots, c.value) << c.text;
        EXPECT_EQ(p.scan.one_file_system, c.value) << c.text;
        EXPECT_EQ(p.allow_mutation, c.value) << c.text;
        cfg_free(&p);
    }
}

TEST(ConfigLoad, ThreadsAndDepthValues) {
    struct {
        const char *threads;
        int value;
    } cases[] = {{"auto", 0}, {"AUTO", 0}, {"1", 1}, {"4096", 4096}, {"+8", 8}, {"007", 7}};
    for (const auto &c : cases) {
        std::string yaml = std::string("version: 1\nscan: {threads: ") + c.threads +
                           ", max_depth: 2147483647}\nsinks: [{plugin: csv}]\n";
        cfg_pipeline p;
        ASSERT_EQ(Load(yaml, &p), 0) << c.threads;
        EXPECT_EQ(p.scan.threads, c.value) << c.threads;
        EXPECT_EQ(p.scan.max_depth, 2147483647);
        cfg_free(&p);
    }
}

TEST(ConfigLoad, BytesInStringsSurvive) {
    // YAML escapes give bytes no plain file could; all but NUL are kept
    const std::string yaml =
        "version: 1\n"
        "scan: {roots: [\"/d/tab\\there\", \"/d/caf\\u00e9\"]}\n"
        "sinks: [{plugin: csv, options: {sep: \"\\x1f\"}}]\n";
    cfg_pipeline p;
    ASSERT_EQ(Load(yaml, &p), 0);
    EXPECT_EQ(List(p.scan.roots, p.scan.root_count),
              (Strings{"/d/tab\there", "/d/caf\xc3\xa9"}));
    EXPECT_EQ(Str(Opt(p.sinks[0], "sep")->scalar), "\x1f");
    cfg_free(&p);
}

TEST(ConfigLoad, LengthIsHonouredWithoutNulTerminator) {
    std::string text = std::string(kMinimal) + "this is not YAML: [";
    cfg_pipeline p;
    char err[256];
    ASSERT_EQ(cfg_load_string(text.data(), std::strlen(kMinimal), "t.yaml", &p, err, sizeof err),
              0)
        << err;
    EXPECT_EQ(p.sink_count, 1u);
    cfg_free(&p);
}

TEST(ConfigLoad, AnchorsAreCopiedPerSink) {
    const std::string yaml =
        "version: 1\n"
        "sinks:\n"
        "  - {name: a, plugin: csv, options: &common {header: true, fields: [x, y]}}\n"
        "  - {name: b, plugin: csv, options: *common}\n";
    cfg_pipeline p;
    ASSERT_EQ(Load(yaml, &p), 0);
    ASSERT_EQ(p.sink_count, 2u);
    for (size_t i = 0; i < 2; i++) {
        EXPECT_EQ(Str(Opt(p.sinks[i], "header")->scalar), "true");
        EXPECT_EQ(Opt(p.sinks[i], "fields")->item_count, 2u);
    }
    EXPECT_NE(Opt(p.sinks[0], "header")->scalar, Opt(p.sinks[1], "header")->scalar);
    cfg_free(&p);
}

TEST(ConfigLoad, OverwritesAnUninitialisedStruct) {
    // main() passes a struct it never initialised
    cfg_pipeline p;
    std::memset(&p, 0xa5, sizeof p);
    ASSERT_EQ(Load(kMinimal, &p), 0);
    EXPECT_EQ(p.sink_count, 1u);
    cfg_free(&p);
}

TEST(ConfigLoad, NullNameAndNullErrorBuffer) {
    cfg_pipeline p;
    ASSERT_EQ(cfg_load_string(kMinimal, std::strlen(kMinimal), nullptr, &p, nullptr, 0), 0);
    EXPECT_EQ(Str(p.source), "<string>");
    cfg_free(&p);
    const char bad[] = "version: 2\n";
    EXPECT_EQ(cfg_load_string(bad, std::strlen(bad), "t.yaml", &p, nullptr, 0), -1);
    cfg_free(&p);
    char err[16];
    EXPECT_EQ(cfg_load_string(bad, std::strlen(bad), "t.yaml", &p, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "t.yaml:1:10: un");  // cut, still terminated
    cfg_free(&p);
}

// ---- rejections: the exact message for each ------------------------------------

TEST(ConfigErrors, UnknownKeys) {
    EXPECT_EQ(LoadError("version: 1\n"
                        "scan:\n"
                        "    thread: 4\n"
                        "sinks: [{plugin: csv}]\n",
                        "audit.yaml"),
              "audit.yaml:3:5: unknown key 'thread' in 'scan' (known: roots, threads, "
              "one_file_system, skip_snapshots, snapshot_names, exclude, max_depth, errors, "
              "mode, strict, max_threads, max_ops, adaptive, lazy_stat, io_priority, "
              "checkpoint, checkpoint_every, time_limit)");
    EXPECT_EQ(LoadError("version: 1\nsink: []\n"),
              "t.yaml:2:1: unknown key 'sink' at the top level (known: version, allow_mutation, "
              "scan, plugin_path, sinks)");
    EXPECT_EQ(LoadError("version: 1\nsinks:\n  - plugin: csv\n    option: {}\n"),
              "t.yaml:4:5: sink 1: unknown key 'option' (known: name, plugin, options)");
}

TEST(ConfigErrors, ScanScalars) {
    EXPECT_EQ(LoadError("version: 1\n"
                        "scan:\n"
                        "  roots: [/]\n"
                        "  threads: many\n"
                        "sinks: [{plugin: csv}]\n",
                        "audit.yaml"),
              "audit.yaml:4:12: 'scan.threads' must be 'auto' or an integer 1..4096, not 'many'");
    const char *bad_threads[] = {"0", "4097", "-1", "4x", "\" 4\"", "0x10", "1.5",
                                 "99999999999999999999999"};
    for (const char *t : bad_threads)
        EXPECT_EQ(LoadError(std::string("version: 1\nscan: {threads: ") + t + "}\n"),
                  std::string("t.yaml:2:17: 'scan.threads' must be 'auto' or an integer "
                              "1..4096, not '") +
                      (t[0] == '"' ? " 4" : t) + "'");
    EXPECT_EQ(LoadError("version: 1\nscan: {threads: [1]}\n"),
              "t.yaml:2:17: 'scan.threads' must be 'auto' or an integer 1..4096, not a list");
    EXPECT_EQ(LoadError("version: 1\nscan:\n  threads:\n"),
              "t.yaml:3:11: 'scan.threads' must be 'auto' or an integer 1..4096, not ''");
    EXPECT_EQ(LoadError("version: 1\nscan: {max_depth: -1}\n"),
              "t.yaml:2:19: 'scan.max_depth' must be an integer >= 0 (0 = unlimited), not '-1'");
    EXPECT_EQ(LoadError("version: 1\nscan: {max_depth: 2147483648}\n"),
              "t.yaml:2:19: 'scan.max_depth' must be an integer >= 0 (0 = unlimited), not "
              "'2147483648'");
    EXPECT_EQ(LoadError("version: 1\nscan: {max_depth: 3 levels}\n"),
              "t.yaml:2:19: 'scan.max_depth' must be an integer >= 0 (0 = unlimited), not "
              "'3 levels'");
    EXPECT_EQ(LoadError("version: 1\nscan: {one_file_system: maybe}\n"),
              "t.yaml:2:25: 'scan.one_file_system' must be true or false (or yes/no, on/off), "
              "not 'maybe'");
    EXPECT_EQ(LoadError("version: 1\nscan: {skip_snapshots: 1}\n"),
              "t.yaml:2:24: 'scan.skip_snapshots' must be true or false (or yes/no, on/off), "
              "not '1'");
    EXPECT_EQ(LoadError("version: 1\nscan: {strict: 2}\n"),
              "t.yaml:2:16: 'scan.strict' must be true or false (or yes/no, on/off), not '2'");
    EXPECT_EQ(LoadError("version: 1\nallow_mutation: {a: 1}\n"),
              "t.yaml:2:17: 'allow_mutation' must be true or false (or yes/no, on/off), not a "
              "mapping");
    EXPECT_EQ(LoadError("version: 1\nscan: {errors: [a]}\n"),
              "t.yaml:2:16: 'scan.errors' must be a file name, not a list");
    EXPECT_EQ(LoadError("version: 1\nscan: {errors: ''}\n"),
              "t.yaml:2:16: 'scan.errors' is empty (leave it out for no error file)");
    for (const char *m : {"999", "64", "1640", "00640", "rw-r-----", "''", "[1]"})
        EXPECT_EQ(LoadError(std::string("version: 1\nscan: {mode: ") + m + "}\n").rfind(
                      "t.yaml:2:14: 'scan.mode' must be octal permission bits such as \"0640\", "
                      "not ",
                      0),
                  0u)
            << m;
}

TEST(ConfigLoad, ScanModeIsOctalPermissionBits) {
    for (auto [text, want] : std::vector<std::pair<std::string, int>>{
             {"0640", 0640}, {"\"0600\"", 0600}, {"644", 0644}, {"~", -1}}) {
        cfg_pipeline p;
        char err[512];
        std::string yaml = "version: 1\nscan: {mode: " + text + "}\nsinks: [{plugin: csv}]\n";
        ASSERT_EQ(cfg_load_string(yaml.c_str(), yaml.size(), "t.yaml", &p, err, sizeof err), 0)
            << text << ": " << err;
        EXPECT_EQ(p.scan.mode, want) << text;
        cfg_free(&p);
    }
}

TEST(ConfigErrors, ScanLists) {
    EXPECT_EQ(LoadError("version: 1\nscan: {roots: {a: b}}\n"),
              "t.yaml:2:15: 'scan.roots' must be a list of strings, not a mapping");
    EXPECT_EQ(LoadError("version: 1\nscan: {exclude: [a, [b]]}\n"),
              "t.yaml:2:21: 'scan.exclude' item 2 must be a string, not a list");
    EXPECT_EQ(LoadError("version: 1\nscan: {snapshot_names: [.snap, '']}\n"),
              "t.yaml:2:32: 'scan.snapshot_names' item 2 is empty");
    EXPECT_EQ(LoadError("version: 1\nscan: {roots: [~]}\n"),
              "t.yaml:2:16: 'scan.roots' item 1 is empty");
    EXPECT_EQ(LoadError("version: 1\nplugin_path: [{a: 1}]\n"),
              "t.yaml:2:15: 'plugin_path' item 1 must be a string, not a mapping");
    EXPECT_EQ(LoadError("version: 1\nscan: {roots: [\"/a\\0b\"]}\n"),
              "t.yaml:2:16: 'scan.roots' item 1 contains a NUL byte");
}

TEST(ConfigErrors, Sinks) {
    EXPECT_EQ(LoadError("version: 1\n"          // 1
                        "sinks:\n"              // 2
                        "  - name: a\n"         // 3
                        "    plugin: csv\n"     // 4
                        "    options:\n"        // 5
                        "      path: a.csv\n"   // 6
                        "      header: true\n"  // 7
                        "      escape: dey\n"   // 8
                        "  - name: b\n"         // 9
                        "    options: {path: b.csv}\n",
                        "audit.yaml"),
              "audit.yaml:9:5: sink 2: missing required key 'plugin'");
    EXPECT_EQ(LoadError("version: 1\n"                   // 1
                        "sinks:\n"                       // 2
                        "  - name: inventory\n"          // 3
                        "    plugin: csv\n"              // 4
                        "    options:\n"                 // 5
                        "      path: a.csv\n"            // 6
                        "      header: true\n"           // 7
                        "      escape: dey\n"            // 8
                        "  - name: tally\n"              // 9
                        "    plugin: tally\n"            // 10
                        "  - plugin: csv\n"              // 11
                        "    name: inventory\n",         // 12
                        "audit.yaml"),
              "audit.yaml:12:11: duplicate sink name 'inventory'");
    EXPECT_EQ(LoadError("version: 1\nsinks:\n  - plugin: csv\n  - plugin: csv\n"),
              "t.yaml:4:13: duplicate sink name 'csv' (a sink's name defaults to its plugin; "
              "give each sink its own 'name')");
    EXPECT_EQ(LoadError("version: 1\nsinks: {plugin: csv}\n"),
              "t.yaml:2:8: 'sinks' must be a list, not a mapping");
    EXPECT_EQ(LoadError("version: 1\nsinks: csv\n"),
              "t.yaml:2:8: 'sinks' must be a list, not 'csv'");
    EXPECT_EQ(LoadError("version: 1\nsinks: []\n"),
              "t.yaml:2:8: 'sinks' must list at least one sink");
    EXPECT_EQ(LoadError("version: 1\nsinks:\n"), "t.yaml:2:7: 'sinks' must list at least one sink");
    EXPECT_EQ(LoadError("version: 1\nscan: {roots: [/]}\n"),
              "t.yaml: 'sinks' must list at least one sink");
    EXPECT_EQ(LoadError("version: 1\nsinks: [csv]\n"),
              "t.yaml:2:9: sink 1 must be a mapping (name, plugin, options), not 'csv'");
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: ''}]\n"),
              "t.yaml:2:18: sink 1: 'plugin' is empty");
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: [csv]}]\n"),
              "t.yaml:2:18: sink 1: 'plugin' must be a string, not a list");
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: csv, name: ~}]\n"),
              "t.yaml:2:29: sink 1: 'name' is empty");
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: csv, name: scan}]\n"),
              "t.yaml:2:29: sink 1: the name 'scan' is reserved (--set scan.KEY=VALUE sets scan "
              "keys); give the sink another 'name'");
}

TEST(ConfigErrors, SinkOptions) {
    EXPECT_EQ(LoadError("version: 1\n"
                        "sinks:\n"
                        "  - name: inventory\n"
                        "    plugin: csv\n"
                        "    options:\n"
                        "      path: {dir: /tmp}\n"),
              "t.yaml:6:13: sink 'inventory': option 'path' must be a single value or a list of "
              "values, not a mapping");
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: csv, options: {f: [a, {b: c}]}}]\n"),
              "t.yaml:2:40: sink 'csv': option 'f': item 2 must be a single value, not a "
              "mapping");
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: csv, options: {f: [[a]]}}]\n"),
              "t.yaml:2:37: sink 'csv': option 'f': item 1 must be a single value, not a list");
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: csv, options: [path]}]\n"),
              "t.yaml:2:32: sink 'csv': 'options' must be a mapping, not a list");
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: csv, options: {path: \"a\\0\"}}]\n"),
              "t.yaml:2:39: sink 'csv': option 'path' contains a NUL byte");
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: csv, options: {'': x}}]\n"),
              "t.yaml:2:33: sink 'csv': empty key in 'options'");
}

// YAML's null is no value of any option type: `path: ~` made a file named
// '~', `path:` one named ''.  Quoted, '~' is the text.
TEST(ConfigErrors, NullOptionValues) {
    const char *hint = " (~, null or nothing): quote it ('~') for the text";
    EXPECT_EQ(LoadError("version: 1\n"
                        "sinks:\n"
                        "  - name: inventory\n"
                        "    plugin: csv\n"
                        "    options:\n"
                        "      path: ~\n"),
              std::string("t.yaml:6:13: sink 'inventory': option 'path' must be a value, not "
                          "null") + hint + ", or leave the key out for its default");
    for (const char *v : {"null", "Null", "NULL", ""}) {
        SCOPED_TRACE(v);
        std::string msg = LoadError(std::string("version: 1\nsinks:\n  - plugin: csv\n    "
                                                "options:\n      header: ") + v + "\n");
        EXPECT_NE(msg.find(": sink 'csv': option 'header' must be a value, not null"),
                  std::string::npos) << msg;
    }
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: csv, options: {k: [a, ~]}}]\n"),
              std::string("t.yaml:2:40: sink 'csv': option 'k': item 2 must be a value, not "
                          "null") + hint);
    cfg_pipeline p;
    ASSERT_EQ(Load("version: 1\nsinks: [{plugin: csv, options: {path: '~', k: ['null']}}]\n",
                   &p), 0);
    EXPECT_EQ(Str(Opt(p.sinks[0], "path")->scalar), "~");
    EXPECT_EQ(Str(Opt(p.sinks[0], "k")->items[0]), "null");
    cfg_free(&p);
}

TEST(ConfigErrors, DuplicateKeys) {
    EXPECT_EQ(LoadError("version: 1\nsinks: []\nversion: 1\n"),
              "t.yaml:3:1: duplicate key 'version' at the top level (first at line 1)");
    EXPECT_EQ(LoadError("version: 1\nscan:\n  threads: 2\n  threads: 4\n"),
              "t.yaml:4:3: duplicate key 'threads' in 'scan' (first at line 3)");
    EXPECT_EQ(LoadError("version: 1\nsinks:\n  - plugin: csv\n    plugin: tally\n"),
              "t.yaml:4:5: sink 1: duplicate key 'plugin' (first at line 3)");
    EXPECT_EQ(LoadError("version: 1\n"
                        "sinks:\n"
                        "  - plugin: csv\n"
                        "    options:\n"
                        "      path: a.csv\n"
                        "      header: true\n"
                        "      path: b.csv\n"),
              "t.yaml:7:7: sink 'csv': duplicate key 'path' in 'options' (first at line 5)");
}

TEST(ConfigErrors, Version) {
    EXPECT_EQ(LoadError("version: 2\nfuture_key: x\nsinks: [{plugin: csv}]\n"),
              "t.yaml:1:10: unsupported version '2' (this pwalk reads version 1)");
    EXPECT_EQ(LoadError("sinks: [{plugin: csv}]\nversion: \"1.0\"\n"),
              "t.yaml:2:10: unsupported version '1.0' (this pwalk reads version 1)");
    EXPECT_EQ(LoadError("version: [1]\n"), "t.yaml:1:10: 'version' must be 1, not a list");
    EXPECT_EQ(LoadError("# no version\nsinks: [{plugin: csv}]\n"),
              "t.yaml:2:1: missing required key 'version' (this pwalk reads version 1)");
}

TEST(ConfigErrors, DocumentShape) {
    const char *expected = "t.yaml: empty pipeline (expected 'version: 1' and a list of 'sinks')";
    EXPECT_EQ(LoadError(""), expected);
    EXPECT_EQ(LoadError("# only a comment\n\n"), expected);
    EXPECT_EQ(LoadError("---\n...\n"), expected);
    EXPECT_EQ(LoadError("~\n"), expected);
    EXPECT_EQ(LoadError("- version: 1\n"),
              "t.yaml:1:1: a pipeline must be a mapping (version, scan, sinks, ...), not a list");
    EXPECT_EQ(LoadError("version 1\n"),
              "t.yaml:1:1: a pipeline must be a mapping (version, scan, sinks, ...), not "
              "'version 1'");
    EXPECT_EQ(LoadError(std::string(kMinimal) + "---\nversion: 1\n"),
              "t.yaml:4:1: a second YAML document ('---'); a pipeline is one document");
    EXPECT_EQ(LoadError("version: 1\n[a]: 1\n"),
              "t.yaml:2:1: keys must be plain names, not a list at the top level");
    EXPECT_EQ(LoadError("version: 1\nscan:\n  ? {a: 1}\n  : 2\n"),
              "t.yaml:3:5: keys must be plain names, not a mapping in 'scan'");
}

TEST(ConfigErrors, YamlSyntax) {
    EXPECT_EQ(LoadError("version: 1\nsinks:\n  - plugin: csv\n    options: {a: [1, 2}\n"),
              "t.yaml:4:23: did not find expected ',' or ']' (while parsing a flow sequence at "
              "4:18)");
    EXPECT_EQ(LoadError("version: 1\nsinks:\n  - plugin: csv\n   bad: x\n"),
              "t.yaml:4:4: did not find expected '-' indicator (while parsing a block "
              "collection at 3:3)");
    EXPECT_EQ(LoadError("version: 1\nsinks: *nowhere\n"), "t.yaml:2:8: found undefined alias");
    EXPECT_EQ(LoadError("version: 1\n@scan: {}\n"),
              "t.yaml:2:1: found character that cannot start any token (while scanning for the "
              "next token at 2:1)");
    EXPECT_EQ(LoadError("version: 1\n\tscan: {}\n"),  // a tab continues the plain scalar "1"
              "t.yaml:2:1: found a tab character that violates indentation (while scanning a "
              "plain scalar at 1:10)");
    // reader errors come with a byte offset only: the line and column are counted
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: \xff}]\n"),
              "t.yaml:2:18: invalid leading UTF-8 octet (byte 0xff)");
    EXPECT_EQ(LoadError(std::string("version: 1\nsinks: [{plugin: c\0v}]\n", 34)),
              "t.yaml:2:19: control characters are not allowed (byte 0x00)");
    // a broken second document is reported too
    EXPECT_EQ(LoadError(std::string(kMinimal) + "---\n[\n"),
              "t.yaml:5:1: did not find expected node content (while parsing a flow node at "
              "5:1)");
}

TEST(ConfigErrors, MessagesStayOnOneLine) {
    EXPECT_EQ(LoadError("version: 1\nscan: {threads: \"a\\nb\\x7f\"}\n"),
              "t.yaml:2:17: 'scan.threads' must be 'auto' or an integer 1..4096, not "
              "'a\\x0ab\\x7f'");
    EXPECT_EQ(LoadError("version: 1\n\"bad\\rkey\": 1\n"),
              "t.yaml:2:1: unknown key 'bad\\x0dkey' at the top level (known: version, "
              "allow_mutation, scan, plugin_path, sinks)");
    std::string long_value(500, 'z');
    std::string msg = LoadError("version: 1\nscan: {threads: " + long_value + "}\n");
    EXPECT_EQ(msg, "t.yaml:2:17: 'scan.threads' must be 'auto' or an integer 1..4096, not '" +
                       std::string(80, 'z') + "...'");
    EXPECT_EQ(LoadError("version: 2\n", "dir\nname.yaml"),
              "dir\\x0aname.yaml:1:10: unsupported version '2' (this pwalk reads version 1)");
}

TEST(ConfigErrors, CyclicAliasIsRejectedNotFollowed) {
    // libyaml lets a sequence contain itself; the schema walk must not loop
    EXPECT_EQ(LoadError("version: 1\nsinks: [{plugin: csv, options: {f: &a [x, *a]}}]\n"),
              "t.yaml:2:36: sink 'csv': option 'f': item 2 must be a single value, not a list");
    EXPECT_EQ(LoadError("version: 1\nscan: {roots: &r [/a, *r]}\n"),
              "t.yaml:2:15: 'scan.roots' item 2 must be a string, not a list");
}

// libyaml's scanner works in proportion to the open flow collections on
// every token: 200k nested '[' (the issue's 400 KB file, a minute of CPU)
// must be refused at the 65th level, before the rest is read.
TEST(ConfigLimits, DeepNestingStopsAtTheCap) {
    EXPECT_EQ(LoadError(std::string(200000, '[')),
              "t.yaml:1:65: nested deeper than 64 levels (the limit for a pipeline)");
    std::string lines;
    for (int i = 0; i < 200000; i++)
        lines += "[\n";
    EXPECT_EQ(LoadError("version: 1\nsinks: " + lines),
              "t.yaml:65:1: nested deeper than 64 levels (the limit for a pipeline)");
    std::string blocks;
    for (int i = 0; i < 100000; i++)
        blocks += "{a: ";
    EXPECT_EQ(LoadError(blocks),
              "t.yaml:1:257: nested deeper than 64 levels (the limit for a pipeline)");
    // 64 levels are still read (and meet the schema's own complaint)
    EXPECT_EQ(LoadError(std::string(64, '[') + std::string(64, ']')),
              "t.yaml:1:1: a pipeline must be a mapping (version, scan, sinks, ...), not a list");
    EXPECT_EQ(LoadError(std::string(65, '[') + std::string(65, ']')),
              "t.yaml:1:65: nested deeper than 64 levels (the limit for a pipeline)");
}

std::string FlowList(int n) {
    std::string s = "[";
    for (int i = 0; i < n; i++)
        s += (i ? ",x" : "x") + std::to_string(i);
    return s + "]";
}

TEST(ConfigLimits, ValuesKeysAndAliasCopies) {
    // keys count as values: 12 here besides the list items
    cfg_pipeline p;
    std::string msg;
    std::string ok =
        "version: 1\nscan:\n  exclude: " + FlowList(9980) + "\nsinks: [{plugin: csv}]\n";
    ASSERT_EQ(Load(ok, &p, &msg), 0) << msg;
    EXPECT_EQ(p.scan.exclude_count, 9980u);
    cfg_free(&p);
    std::string msg2 = LoadError("version: 1\nscan:\n  exclude: " + FlowList(10000) + "\n");
    EXPECT_EQ(msg2.substr(0, 9), "t.yaml:3:") << msg2;
    EXPECT_NE(msg2.find(": more than 10000 values (the limit for a pipeline)"), std::string::npos)
        << msg2;

    std::string keys = "version: 1\nsinks:\n  - plugin: csv\n    options:\n";
    for (int i = 0; i < 257; i++)
        keys += "      k" + std::to_string(i) + ": 1\n";
    EXPECT_EQ(LoadError(keys),
              "t.yaml:5:7: sink 'csv': more than 256 keys in 'options' (the limit for a "
              "pipeline)");

    // aliases copy a whole list each: a small file must not make millions
    std::string bomb = "version: 1\nsinks:\n  - plugin: csv\n    options:\n      k0: &a " +
                       FlowList(4000) + "\n      k1: *a\n      k2: *a\n";
    msg = LoadError(bomb);
    EXPECT_EQ(msg, "t.yaml:7:7: more than 10000 list items, counting each alias's copy (the "
                   "limit for a pipeline)");
}

TEST(ConfigLimits, TextOverOneMiBIsRefused) {
    std::string text = std::string(kMinimal) + "#" + std::string(1 << 20, 'x') + "\n";
    EXPECT_EQ(LoadError(text), "t.yaml: too large for a pipeline (over 1 MiB)");
}

// ---- files ---------------------------------------------------------------------

class ConfigFile : public ::testing::Test {
  protected:
    std::string dir_;
    void SetUp() override {
        dir_ = harness::MakeTempDir("cfg", ::testing::TempDir(), 0700);
    }
    void TearDown() override { harness::RemoveTree(dir_); }
    std::string Write(const char *name, const std::string &text) {
        std::string path = dir_ + "/" + name;
        FILE *f = std::fopen(path.c_str(), "wb");
        EXPECT_NE(f, nullptr);
        if (f) {
            std::fwrite(text.data(), 1, text.size(), f);
            std::fclose(f);
        }
        return path;
    }
};

TEST_F(ConfigFile, LoadsAndNamesTheFile) {
    std::string path = Write("audit.yaml",
                             "version: 1\n"
                             "scan: {roots: [.], errors: scan-errors.csv}\n"
                             "sinks:\n"
                             "  - name: inventory\n"
                             "    plugin: csv\n"
                             "    options: {path: scan.csv}\n");
    cfg_pipeline p;
    char err[512] = "";
    ASSERT_EQ(cfg_load_file(path.c_str(), &p, err, sizeof err), 0) << err;
    EXPECT_EQ(Str(p.source), path);
    EXPECT_EQ(Str(p.scan.errors_path), "scan-errors.csv");
    EXPECT_EQ(Str(p.sinks[0].name), "inventory");
    cfg_free(&p);
}

TEST_F(ConfigFile, ErrorsNameTheFile) {
    std::string path = Write("bad.yaml", "version: 1\nscan:\n  thread: 4\n");
    cfg_pipeline p;
    char err[512];
    ASSERT_EQ(cfg_load_file(path.c_str(), &p, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), path +
                                    ":3:3: unknown key 'thread' in 'scan' (known: roots, threads, "
                                    "one_file_system, skip_snapshots, snapshot_names, exclude, "
                                    "max_depth, errors, mode, strict, max_threads, max_ops, "
                                    "adaptive, lazy_stat, io_priority, checkpoint, "
                                    "checkpoint_every, time_limit)");
    ExpectDefaults(p);
    cfg_free(&p);

    path = Write("empty.yaml", "");
    ASSERT_EQ(cfg_load_file(path.c_str(), &p, err, sizeof err), -1);
    EXPECT_EQ(std::string(err),
              path + ": empty pipeline (expected 'version: 1' and a list of 'sinks')");
    cfg_free(&p);
}

TEST_F(ConfigFile, OneMiBIsTheLimit) {
    std::string text = std::string(kMinimal) + "#";
    text += std::string((1 << 20) - text.size() - 1, 'x') + "\n";
    ASSERT_EQ(text.size(), size_t(1) << 20);
    std::string path = Write("exact.yaml", text);
    cfg_pipeline p;
    char err[512] = "";
    EXPECT_EQ(cfg_load_file(path.c_str(), &p, err, sizeof err), 0) << err;
    cfg_free(&p);
    path = Write("over.yaml", text + "\n");
    ASSERT_EQ(cfg_load_file(path.c_str(), &p, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), path + ": too large for a pipeline (over 1 MiB)");
    ExpectDefaults(p);
    cfg_free(&p);
}

TEST_F(ConfigFile, MissingAndUnreadable) {
    cfg_pipeline p;
    char err[512];
    std::string missing = dir_ + "/nope.yaml";
    ASSERT_EQ(cfg_load_file(missing.c_str(), &p, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), missing + ": No such file or directory");
    ExpectDefaults(p);
    cfg_free(&p);

    ASSERT_EQ(cfg_load_file(dir_.c_str(), &p, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), dir_ + ": Is a directory");
    cfg_free(&p);

    if (geteuid() != 0) {  // root reads mode-000 files anyway
        std::string locked = Write("locked.yaml", kMinimal);
        ASSERT_EQ(chmod(locked.c_str(), 0), 0);
        ASSERT_EQ(cfg_load_file(locked.c_str(), &p, err, sizeof err), -1);
        EXPECT_EQ(std::string(err), locked + ": Permission denied");
        cfg_free(&p);
    }
}

// ---- --set ---------------------------------------------------------------------

class ConfigSet : public ::testing::Test {
  protected:
    cfg_pipeline p_;
    char err_[512];
    void SetUp() override {
        const std::string yaml =
            "version: 1\n"
            "sinks:\n"
            "  - name: inventory\n"
            "    plugin: csv\n"
            "    options: {path: scan.csv, fields: [a, b]}\n"
            "  - name: tally\n"
            "    plugin: tally\n";
        ASSERT_EQ(Load(yaml, &p_), 0);
    }
    void TearDown() override { cfg_free(&p_); }
    int Set(const char *arg) {
        std::memset(err_, 0, sizeof err_);
        return cfg_apply_set(&p_, arg, err_, sizeof err_);
    }
    std::string SetError(const char *arg) {
        EXPECT_EQ(Set(arg), -1) << arg;
        return err_;
    }
};

TEST_F(ConfigSet, ReplacesAnOptionAndClearsItsMarks) {
    ASSERT_EQ(Set("inventory.path=/tmp/p.csv"), 0) << err_;
    const cfg_option *o = Opt(p_.sinks[0], "path");
    EXPECT_EQ(Str(o->scalar), "/tmp/p.csv");
    ExpectMark(o->mark, 0, 0);
    ExpectMark(o->key_mark, 0, 0);
    EXPECT_EQ(p_.sinks[0].option_count, 2u);
}

TEST_F(ConfigSet, AddsAnOption) {
    ASSERT_EQ(Set("tally.every=1000"), 0) << err_;
    ASSERT_EQ(p_.sinks[1].option_count, 1u);
    EXPECT_EQ(Str(p_.sinks[1].options[0].key), "every");
    EXPECT_EQ(Str(p_.sinks[1].options[0].scalar), "1000");
    ExpectMark(p_.sinks[1].options[0].mark, 0, 0);
}

TEST_F(ConfigSet, ScalarReplacesAList) {
    ASSERT_EQ(Set("inventory.fields=c"), 0) << err_;
    const cfg_option *o = Opt(p_.sinks[0], "fields");
    EXPECT_EQ(o->is_list, 0);
    EXPECT_EQ(o->items, nullptr);
    EXPECT_EQ(o->item_count, 0u);
    EXPECT_EQ(Str(o->scalar), "c");
}

TEST_F(ConfigSet, ValueMayHoldEqualsAndDotsAndBeEmpty) {
    ASSERT_EQ(Set("inventory.filter=a=b.c"), 0) << err_;
    EXPECT_EQ(Str(Opt(p_.sinks[0], "filter")->scalar), "a=b.c");
    ASSERT_EQ(Set("inventory.path="), 0) << err_;
    EXPECT_EQ(Str(Opt(p_.sinks[0], "path")->scalar), "");
}

TEST_F(ConfigSet, DottedSinkNamesLongestMatch) {
    ASSERT_NE(cfg_add_sink(&p_, "lib.x.so", "/p/lib.x.so"), nullptr);
    ASSERT_NE(cfg_add_sink(&p_, "lib", "csv"), nullptr);
    ASSERT_EQ(Set("lib.x.so.level=3"), 0) << err_;
    EXPECT_EQ(Str(Opt(p_.sinks[2], "level")->scalar), "3");
    EXPECT_EQ(p_.sinks[3].option_count, 0u);
    ASSERT_EQ(Set("lib.y=1"), 0) << err_;
    EXPECT_EQ(Str(Opt(p_.sinks[3], "y")->scalar), "1");
}

TEST_F(ConfigSet, ScanScalars) {
    ASSERT_EQ(Set("scan.threads=4"), 0) << err_;
    EXPECT_EQ(p_.scan.threads, 4);
    ASSERT_EQ(Set("scan.threads=auto"), 0) << err_;
    EXPECT_EQ(p_.scan.threads, 0);
    ASSERT_EQ(Set("scan.one_file_system=yes"), 0) << err_;
    EXPECT_EQ(p_.scan.one_file_system, 1);
    ASSERT_EQ(Set("scan.skip_snapshots=Off"), 0) << err_;
    EXPECT_EQ(p_.scan.skip_snapshots, 0);
    ASSERT_EQ(Set("scan.max_depth=7"), 0) << err_;
    EXPECT_EQ(p_.scan.max_depth, 7);
    ASSERT_EQ(Set("scan.errors=e.csv"), 0) << err_;
    EXPECT_EQ(Str(p_.scan.errors_path), "e.csv");
    ASSERT_EQ(Set("scan.errors="), 0) << err_;
    EXPECT_EQ(p_.scan.errors_path, nullptr);
    EXPECT_EQ(p_.scan.strict, 0);  // vanished entries are not errors by default
    ASSERT_EQ(Set("scan.strict=true"), 0) << err_;
    EXPECT_EQ(p_.scan.strict, 1);
    EXPECT_EQ(SetError("scan.strict=sometimes"),
              "--set 'scan.strict=sometimes': 'scan.strict' must be true or false (or yes/no, "
              "on/off), not 'sometimes'");
}

TEST_F(ConfigSet, ScanLists) {
    ASSERT_EQ(Set("scan.roots=/a,/b c,/d"), 0) << err_;
    EXPECT_EQ(List(p_.scan.roots, p_.scan.root_count), (Strings{"/a", "/b c", "/d"}));
    ASSERT_EQ(Set("scan.exclude=*.tmp"), 0) << err_;
    EXPECT_EQ(List(p_.scan.excludes, p_.scan.exclude_count), Strings{"*.tmp"});
    ASSERT_EQ(Set("scan.snapshot_names=.snapshot,.zfs"), 0) << err_;
    EXPECT_EQ(List(p_.scan.snapshot_names, p_.scan.snapshot_name_count),
              (Strings{".snapshot", ".zfs"}));
    ASSERT_EQ(Set("scan.roots="), 0) << err_;
    EXPECT_EQ(p_.scan.root_count, 0u);
    EXPECT_EQ(p_.scan.roots, nullptr);
    EXPECT_EQ(SetError("scan.exclude=a,,b"),
              "--set 'scan.exclude=a,,b': 'scan.exclude' item 2 is empty");
    EXPECT_EQ(List(p_.scan.excludes, p_.scan.exclude_count), Strings{"*.tmp"});  // unchanged
}

TEST_F(ConfigSet, Errors) {
    EXPECT_EQ(SetError("x.path=a"),
              "--set 'x.path=a': no sink named 'x' (sinks: inventory, tally)");
    EXPECT_EQ(SetError("inventory.path"),
              "--set 'inventory.path': missing '=' (expected SINK.OPTION=VALUE or "
              "scan.KEY=VALUE)");
    EXPECT_EQ(SetError("path=a.b"),
              "--set 'path=a.b': missing '.' (expected SINK.OPTION=VALUE or scan.KEY=VALUE)");
    EXPECT_EQ(SetError("inventory.=a"),
              "--set 'inventory.=a': empty option name (expected SINK.OPTION=VALUE)");
    EXPECT_EQ(SetError("scan.threads=many"),
              "--set 'scan.threads=many': 'scan.threads' must be 'auto' or an integer 1..4096, "
              "not 'many'");
    EXPECT_EQ(SetError("scan.threads=0"),
              "--set 'scan.threads=0': 'scan.threads' must be 'auto' or an integer 1..4096, "
              "not '0'");
    EXPECT_EQ(SetError("scan.threads="),
              "--set 'scan.threads=': 'scan.threads' must be 'auto' or an integer 1..4096, "
              "not ''");
    EXPECT_EQ(SetError("scan.max_depth=-2"),
              "--set 'scan.max_depth=-2': 'scan.max_depth' must be an integer >= 0 (0 = "
              "unlimited), not '-2'");
    EXPECT_EQ(SetError("scan.one_file_system=2"),
              "--set 'scan.one_file_system=2': 'scan.one_file_system' must be true or false "
              "(or yes/no, on/off), not '2'");
    EXPECT_EQ(SetError("scan.thread=2"),
              "--set 'scan.thread=2': unknown key 'thread' in 'scan' (known: roots, threads, "
              "one_file_system, skip_snapshots, snapshot_names, exclude, max_depth, errors, "
              "mode, strict, max_threads, max_ops, adaptive, lazy_stat, io_priority, "
              "checkpoint, checkpoint_every, time_limit)");
    EXPECT_EQ(p_.scan.threads, 0);  // failures change nothing
    EXPECT_EQ(p_.scan.max_depth, 0);
}

// Issue 18: the keys that pace a scan on a slow or shared filesystem.
TEST(ConfigPacing, LoadsEveryKey) {
    cfg_pipeline p;
    ASSERT_EQ(Load("version: 1\nscan: {threads: auto, max_threads: 64, max_ops: 500, "
                   "adaptive: true, lazy_stat: yes, io_priority: idle}\nsinks: [{plugin: csv}]\n",
                   &p),
              0);
    EXPECT_EQ(p.scan.max_threads, 64);
    EXPECT_EQ(p.scan.max_ops, 500);
    EXPECT_EQ(p.scan.adaptive, 1);
    EXPECT_EQ(p.scan.lazy_stat, 1);
    EXPECT_EQ(p.scan.io_idle, 1);
    char err[512];
    ASSERT_EQ(cfg_apply_set(&p, "scan.io_priority=normal", err, sizeof err), 0) << err;
    ASSERT_EQ(cfg_apply_set(&p, "scan.max_ops=0", err, sizeof err), 0) << err;
    ASSERT_EQ(cfg_apply_set(&p, "scan.max_threads=4096", err, sizeof err), 0) << err;
    EXPECT_EQ(p.scan.io_idle, 0);
    EXPECT_EQ(p.scan.max_ops, 0);
    EXPECT_EQ(p.scan.max_threads, 4096);
    cfg_free(&p);
}

TEST(ConfigPacing, BadValuesNameKeyAndValue) {
    EXPECT_EQ(LoadError("version: 1\nscan: {max_ops: -1}\n"),
              "t.yaml:2:17: 'scan.max_ops' must be an integer 0..1000000000 (operations per "
              "second, 0 = no limit), not '-1'");
    EXPECT_EQ(LoadError("version: 1\nscan: {max_ops: 1e3}\n"),
              "t.yaml:2:17: 'scan.max_ops' must be an integer 0..1000000000 (operations per "
              "second, 0 = no limit), not '1e3'");
    EXPECT_EQ(LoadError("version: 1\nscan: {max_ops: 1000000001}\n"),
              "t.yaml:2:17: 'scan.max_ops' must be an integer 0..1000000000 (operations per "
              "second, 0 = no limit), not '1000000001'");
    EXPECT_EQ(LoadError("version: 1\nscan: {max_threads: 0}\n"),
              "t.yaml:2:21: 'scan.max_threads' must be an integer 1..4096, not '0'");
    EXPECT_EQ(LoadError("version: 1\nscan: {max_threads: auto}\n"),
              "t.yaml:2:21: 'scan.max_threads' must be an integer 1..4096, not 'auto'");
    EXPECT_EQ(LoadError("version: 1\nscan: {adaptive: sometimes}\n"),
              "t.yaml:2:18: 'scan.adaptive' must be true or false (or yes/no, on/off), not "
              "'sometimes'");
    EXPECT_EQ(LoadError("version: 1\nscan: {lazy_stat: [true]}\n"),
              "t.yaml:2:19: 'scan.lazy_stat' must be true or false (or yes/no, on/off), not a "
              "list");
    EXPECT_EQ(LoadError("version: 1\nscan: {io_priority: low}\n"),
              "t.yaml:2:21: 'scan.io_priority' must be normal or idle, not 'low'");
    Pipeline p;
    char err[512];
    ASSERT_EQ(cfg_apply_set(&p.p, "scan.max_ops=fast", err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "--set 'scan.max_ops=fast': 'scan.max_ops' must be an integer "
                                "0..1000000000 (operations per second, 0 = no limit), not "
                                "'fast'");
    ASSERT_EQ(cfg_apply_set(&p.p, "scan.io_priority=", err, sizeof err), -1);
    EXPECT_EQ(std::string(err),
              "--set 'scan.io_priority=': 'scan.io_priority' must be normal or idle, not ''");
    EXPECT_EQ(p.p.scan.max_ops, 0);  // failures change nothing
    EXPECT_EQ(p.p.scan.io_idle, 0);
}

TEST(ConfigSetNoSinks, SaysNone) {
    Pipeline p;
    char err[256];
    ASSERT_EQ(cfg_apply_set(&p.p, "inventory.path=x", err, sizeof err), -1);
    EXPECT_EQ(std::string(err),
              "--set 'inventory.path=x': no sink named 'inventory' (sinks: none)");
}

// ---- building pipelines in code (the pwalk-compatible command line) ------------

TEST(ConfigBuild, AddSinkAndSetOptions) {
    Pipeline p;
    cfg_sink *s = cfg_add_sink(&p.p, "csv", "csv");
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(cfg_sink_set(s, "path", "-"), 0);
    ASSERT_EQ(cfg_sink_set(s, "header", "false"), 0);
    ASSERT_EQ(cfg_sink_set(s, "header", "true"), 0);  // replaces
    ASSERT_EQ(p->sink_count, 1u);
    EXPECT_EQ(Str(s->name), "csv");
    EXPECT_EQ(Str(s->plugin), "csv");
    ExpectMark(s->mark, 0, 0);
    ASSERT_EQ(s->option_count, 2u);
    EXPECT_EQ(Str(Opt(*s, "path")->scalar), "-");
    EXPECT_EQ(Str(Opt(*s, "header")->scalar), "true");
    ExpectMark(Opt(*s, "header")->mark, 0, 0);

    cfg_sink *t = cfg_add_sink(&p.p, nullptr, "tally");  // name defaults to the plugin
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(Str(t->name), "tally");
    EXPECT_EQ(p->sink_count, 2u);
    EXPECT_EQ(cfg_add_sink(&p.p, "x", nullptr), nullptr);
    EXPECT_EQ(cfg_sink_set(t, nullptr, "v"), -1);
    EXPECT_EQ(cfg_sink_set(t, "k", nullptr), -1);
    EXPECT_EQ(p->sink_count, 2u);
}

TEST(ConfigBuild, SetRootsReplaces) {
    Pipeline p;
    char a[] = "/a", b[] = "/b", c[] = "/c";
    char *first[] = {a, b};
    char *second[] = {c};
    ASSERT_EQ(cfg_set_roots(&p.p, first, 2), 0);
    EXPECT_EQ(List(p->scan.roots, p->scan.root_count), (Strings{"/a", "/b"}));
    EXPECT_NE(p->scan.roots[0], a);  // copied
    ASSERT_EQ(cfg_set_roots(&p.p, second, 1), 0);
    EXPECT_EQ(List(p->scan.roots, p->scan.root_count), Strings{"/c"});
    ASSERT_EQ(cfg_set_roots(&p.p, nullptr, 0), 0);
    EXPECT_EQ(p->scan.root_count, 0u);
}

TEST(ConfigBuild, LoadedPipelineTakesCommandLineEdits) {
    // the order main() applies them in
    cfg_pipeline p;
    ASSERT_EQ(Load("version: 1\nscan: {roots: [.]}\nsinks: [{name: inventory, plugin: csv}]\n",
                   &p),
              0);
    char r[] = "/data";
    char *roots[] = {r};
    char err[256];
    ASSERT_EQ(cfg_apply_set(&p, "inventory.path=/tmp/p.csv", err, sizeof err), 0) << err;
    ASSERT_EQ(cfg_set_roots(&p, roots, 1), 0);
    ASSERT_NE(cfg_add_sink(&p, "extra", "tally"), nullptr);
    EXPECT_EQ(Str(Opt(p.sinks[0], "path")->scalar), "/tmp/p.csv");
    EXPECT_EQ(List(p.scan.roots, p.scan.root_count), Strings{"/data"});
    EXPECT_EQ(p.sink_count, 2u);
    cfg_free(&p);
}

// ---- issue 19: checkpoints ------------------------------------------------------

TEST(ConfigDuration, Accepted) {
    const std::vector<std::pair<const char *, long long>> good = {
        {"90", 90000},          {"90s", 90000},        {"5m", 300000},
        {"3h50m", 13800000},    {"1d12h", 129600000},  {"1h30m15s", 5415000},
        {"500ms", 500},         {"1s500ms", 1500},     {"2d", 172800000},
        {"1d2h3m4s5ms", 93784005},                     {"0m1s", 1000},
        {"05:00", 300000},      {"5:7", 307000},       {"90:00", 5400000},
        {"03:50:00", 13800000}, {"100:00:00", 360000000},
        {"1-12", 129600000},    {"1-12:30", 131400000}, {"2-03:04:05", 183845000},
        {"0-00:00:01", 1000},
    };
    for (const auto &[text, want] : good) {
        long long ms = -7;
        EXPECT_EQ(cfg_parse_duration(text, &ms), 0) << text;
        EXPECT_EQ(ms, want) << text;
    }
}

TEST(ConfigDuration, Refused) {
    for (const char *text :
         {"", "0", "0s", "00:00", "0-00:00:00", "-5m", "+5m", "5 m", " 5m", "5m ", "5M",
          "1.5h", "5m3h", "5m5m", "1msm", "1sms", "h", "3x", "1:2:3:4", "1:60", "1:2:60",
          "1:60:00", "1-24:00:00", "1-", "-1:00", "1-1-1", ":30", "30:", "1::2", "1:030",
          "1-123", "99999999999999999999", "9999999999999999d", "1e3s"}) {
        long long ms = -7;
        EXPECT_EQ(cfg_parse_duration(text, &ms), -1) << text;
        EXPECT_EQ(ms, -7) << text;  // untouched
    }
    long long ms = -7;
    EXPECT_EQ(cfg_parse_duration(nullptr, &ms), -1);
}

TEST(ConfigCheckpoint, LoadsTheKeys) {
    cfg_pipeline p;
    ASSERT_EQ(Load("version: 1\nscan: {checkpoint: /var/tmp/j.ckp, checkpoint_every: 30s, "
                   "time_limit: '3:50:00'}\nsinks: [{plugin: csv}]\n",
                   &p),
              0);
    EXPECT_EQ(Str(p.scan.checkpoint), "/var/tmp/j.ckp");
    EXPECT_EQ(p.scan.checkpoint_every_ms, 30000);
    EXPECT_EQ(p.scan.time_limit_ms, 13800000);
    char err[512];
    ASSERT_EQ(cfg_apply_set(&p, "scan.time_limit=1d", err, sizeof err), 0) << err;
    EXPECT_EQ(p.scan.time_limit_ms, 86400000);
    ASSERT_EQ(cfg_apply_set(&p, "scan.time_limit=", err, sizeof err), 0) << err;
    EXPECT_EQ(p.scan.time_limit_ms, 0);  // none
    ASSERT_EQ(cfg_apply_set(&p, "scan.checkpoint_every=200ms", err, sizeof err), 0) << err;
    EXPECT_EQ(p.scan.checkpoint_every_ms, 200);
    ASSERT_EQ(cfg_apply_set(&p, "scan.checkpoint=other.ckp", err, sizeof err), 0) << err;
    EXPECT_EQ(Str(p.scan.checkpoint), "other.ckp");
    ASSERT_EQ(cfg_apply_set(&p, "scan.checkpoint=", err, sizeof err), 0) << err;
    EXPECT_EQ(p.scan.checkpoint, nullptr);
    cfg_free(&p);

    ASSERT_EQ(Load("version: 1\nscan: {checkpoint: ~, time_limit: null}\n"
                   "sinks: [{plugin: csv}]\n",
                   &p),
              0);
    EXPECT_EQ(p.scan.checkpoint, nullptr);
    EXPECT_EQ(p.scan.time_limit_ms, 0);
    EXPECT_EQ(p.scan.checkpoint_every_ms, 300000);
    cfg_free(&p);
}

TEST(ConfigCheckpoint, BadValuesNameKeyAndValue) {
    const std::string dur =
        "must be a duration above zero such as 90s, 5m, 3h50m, 1d12h, 500ms or [D-]HH:MM:SS, "
        "not ";
    EXPECT_EQ(LoadError("version: 1\nscan: {checkpoint_every: 5 minutes}\n"),
              "t.yaml:2:26: 'scan.checkpoint_every' " + dur + "'5 minutes'");
    EXPECT_EQ(LoadError("version: 1\nscan: {checkpoint_every: 0}\n"),
              "t.yaml:2:26: 'scan.checkpoint_every' " + dur + "'0'");
    EXPECT_EQ(LoadError("version: 1\nscan: {checkpoint_every: ~}\n"),
              "t.yaml:2:26: 'scan.checkpoint_every' " + dur + "'~'");
    EXPECT_EQ(LoadError("version: 1\nscan: {time_limit: [1h]}\n"),
              "t.yaml:2:20: 'scan.time_limit' " + dur + "a list");
    EXPECT_EQ(LoadError("version: 1\nscan: {time_limit: 25:61}\n"),
              "t.yaml:2:20: 'scan.time_limit' " + dur + "'25:61'");
    EXPECT_EQ(LoadError("version: 1\nscan: {checkpoint: ''}\n"),
              "t.yaml:2:20: 'scan.checkpoint' is empty (leave it out for no checkpoints)");
    EXPECT_EQ(LoadError("version: 1\nscan: {checkpoint: {a: 1}}\n"),
              "t.yaml:2:20: 'scan.checkpoint' must be a file name, not a mapping");
    EXPECT_EQ(LoadError("version: 1\nscan: {checkpoint: \"a\\0b\"}\n"),
              "t.yaml:2:20: 'scan.checkpoint' contains a NUL byte");
    Pipeline p;
    char err[512];
    ASSERT_EQ(cfg_apply_set(&p.p, "scan.time_limit=3h50", err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "--set 'scan.time_limit=3h50': 'scan.time_limit' " + dur +
                                    "'3h50'");
    ASSERT_EQ(cfg_apply_set(&p.p, "scan.checkpoint_every=", err, sizeof err), -1);
    EXPECT_EQ(std::string(err),
              "--set 'scan.checkpoint_every=': 'scan.checkpoint_every' " + dur + "''");
    EXPECT_EQ(p.p.scan.checkpoint_every_ms, 300000);  // failures change nothing
    EXPECT_EQ(p.p.scan.time_limit_ms, 0);
}

Strings Canonical(const cfg_pipeline &p) {
    char **lines = nullptr;
    size_t n = 0;
    EXPECT_EQ(cfg_canonical(&p, "/work dir", &lines, &n), 0);
    Strings out = List(lines, n);
    cfg_canonical_free(lines, n);
    return out;
}

TEST(ConfigCanonical, EveryLineInOrder) {
    cfg_pipeline p;
    ASSERT_EQ(Load("version: 1\n"
                   "allow_mutation: true\n"
                   "scan: {roots: [/data, /home], one_file_system: yes, strict: true,\n"
                   "       snapshot_names: [.snapshot, .zfs], exclude: ['*.tmp'],\n"
                   "       max_depth: 4, errors: e.csv, mode: '0640'}\n"
                   "sinks:\n"
                   "  - {name: inventory, plugin: csv-zstd,\n"
                   "     options: {path: out.csv.zst, level: 3, columns: [path, size]}}\n"
                   "  - {name: tally, plugin: summary, options: {}}\n",
                   &p),
              0);
    EXPECT_EQ(Canonical(p), (Strings{
                                "version=1",
                                "allow_mutation=true",
                                "scan.roots[0]=/data",
                                "scan.roots[1]=/home",
                                "scan.one_file_system=true",
                                "scan.strict=true",
                                "scan.skip_snapshots=true",
                                "scan.snapshot_names[0]=.snapshot",
                                "scan.snapshot_names[1]=.zfs",
                                "scan.exclude[0]=*.tmp",
                                "scan.max_depth=4",
                                "scan.errors=e.csv",
                                "scan.mode=0640",
                                "sink.inventory.plugin=csv-zstd",
                                "sink.inventory.columns[0]=path",  // options sorted by name
                                "sink.inventory.columns[1]=size",
                                "sink.inventory.level=3",
                                "sink.inventory.path=out.csv.zst",
                                "sink.tally.plugin=summary",
                                "working_directory=/work dir",  // relative paths
                            }));
    cfg_free(&p);
}

// Pacing and where the journal lives may change between sessions: the lines
// stay the same; anything that decides what is written changes them.
TEST(ConfigCanonical, PacingAndCheckpointKeysAreLeftOut) {
    cfg_pipeline a, b;
    ASSERT_EQ(Load("version: 1\nscan: {roots: [/d]}\nsinks: [{plugin: csv, options: "
                   "{path: x.csv, mode: '0600'}}]\n",
                   &a),
              0);
    ASSERT_EQ(Load("version: 1\n"
                   "plugin_path: [/opt/pwalk/plugins]\n"
                   "scan: {roots: [/d], threads: 7, max_threads: 9, max_ops: 100, adaptive: true,\n"
                   "       lazy_stat: true, io_priority: idle, checkpoint: j.ckp,\n"
                   "       checkpoint_every: 1s, time_limit: 1h}\n"
                   "sinks: [{plugin: csv, options: {mode: '0600', path: x.csv}}]\n",
                   &b),
              0);
    Strings lines = Canonical(a);
    EXPECT_EQ(lines, Canonical(b));
    EXPECT_EQ(lines, (Strings{"version=1", "allow_mutation=false", "scan.roots[0]=/d",
                              "scan.one_file_system=false", "scan.strict=false",
                              "scan.skip_snapshots=true", "scan.snapshot_names[0]=.snapshot",
                              "scan.max_depth=0", "sink.csv.plugin=csv", "sink.csv.mode=0600",
                              "sink.csv.path=x.csv", "working_directory=/work dir"}));
    char err[512];
    for (const char *edit : {"scan.roots=/e", "scan.roots=/d,/e", "scan.max_depth=1",
                             "scan.exclude=a", "scan.errors=e.csv", "scan.mode=0600",
                             "scan.strict=true", "scan.skip_snapshots=false",
                             "scan.snapshot_names=.zfs", "scan.one_file_system=true",
                             "csv.path=y.csv", "csv.other=1"}) {
        cfg_pipeline c;
        ASSERT_EQ(Load("version: 1\nscan: {roots: [/d]}\nsinks: [{plugin: csv, options: "
                       "{path: x.csv, mode: '0600'}}]\n",
                       &c),
                  0);
        ASSERT_EQ(cfg_apply_set(&c, edit, err, sizeof err), 0) << err;
        EXPECT_NE(Canonical(c), lines) << edit;
        cfg_free(&c);
    }
    cfg_free(&a);
    cfg_free(&b);
}

TEST(ConfigCanonical, ValuesAndNamesAreEscapedToOneLine) {
    Pipeline p;
    const char root[] = "/d/new\nline\\x41 \xff=\xc3\xa9";
    char *roots[] = {const_cast<char *>(root)};
    ASSERT_EQ(cfg_set_roots(&p.p, roots, 1), 0);
    cfg_sink *s = cfg_add_sink(&p.p, "a=b\tc", "csv");
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(cfg_sink_set(s, "k=1", "v=2\n"), 0);
    Strings lines = Canonical(p.p);
    ASSERT_EQ(lines.size(), 10u);
    // the value keeps '=' (a line splits at its first '='), bytes go \xHH,
    // a backslash doubles, valid UTF-8 stays
    EXPECT_EQ(lines[2], "scan.roots[0]=/d/new\\x0aline\\\\x41 \\xff=\xc3\xa9");
    EXPECT_EQ(lines[8], "sink.a\\x3db\\x09c.plugin=csv");
    EXPECT_EQ(lines[9], "sink.a\\x3db\\x09c.k\\x3d1=v=2\\x0a");
    for (const std::string &l : lines)
        EXPECT_EQ(l.find('\n'), std::string::npos) << l;
}

// The same relative words from another directory are another scan: the
// working directory is a line exactly when a root, scan.errors, a plugin's
// .so or a sink's path/dir option is relative ('-', stdout, is not a path).
TEST(ConfigCanonical, RelativePathsRecordTheWorkingDirectory) {
    const std::string absolute = "version: 1\nscan: {roots: [/d], errors: /o/e.csv}\nsinks:\n"
                                 "  - {name: a, plugin: csv, options: {path: /o/x.csv}}\n"
                                 "  - {name: b, plugin: summary, options: {dir: /o/s}}\n"
                                 "  - {name: c, plugin: /opt/p/mine.so, options: {path: '-'}}\n"
                                 "  - {name: d, plugin: csv, options: {columns: [a/b], other: "
                                 "rel/x}}\n";
    cfg_pipeline p;
    ASSERT_EQ(Load(absolute, &p), 0);
    Strings lines = Canonical(p);
    for (const std::string &l : lines)
        EXPECT_EQ(l.rfind("working_directory", 0), std::string::npos) << l;
    cfg_free(&p);
    for (const char *edit :
         {"scan.roots=d", "scan.roots=/d,./e", "scan.errors=e.csv", "a.path=x.csv",
          "b.dir=s", "c.path=../x.csv"}) {
        ASSERT_EQ(Load(absolute, &p), 0);
        char err[512];
        ASSERT_EQ(cfg_apply_set(&p, edit, err, sizeof err), 0) << err;
        Strings rel = Canonical(p);
        ASSERT_FALSE(rel.empty());
        EXPECT_EQ(rel.back(), "working_directory=/work dir") << edit;
        char **raw = nullptr;
        size_t n = 0;
        ASSERT_EQ(cfg_canonical(&p, nullptr, &raw, &n), 0);  // no cwd: no line
        EXPECT_EQ(n, rel.size() - 1) << edit;
        cfg_canonical_free(raw, n);
        cfg_free(&p);
    }
    Pipeline q;  // a plugin's .so named relative
    ASSERT_NE(cfg_add_sink(&q.p, "s", "plugins/mine.so"), nullptr);
    EXPECT_EQ(Canonical(q.p).back(), "working_directory=/work dir");
}

TEST(ConfigCanonical, ListOptionsEmptyListAndSinkOrder) {
    Pipeline p;
    cfg_pipeline &q = p.p;
    cfg_free(&q);
    ASSERT_EQ(Load("version: 1\nsinks:\n  - {name: b, plugin: summary, options: {x: []}}\n"
                   "  - {name: a, plugin: csv, options: {z: [1], y: '2'}}\n",
                   &q),
              0);
    Strings lines = Canonical(q);
    Strings sinks(lines.end() - 5, lines.end());
    // sinks in pipeline order (it is the order rows reach them), options sorted
    EXPECT_EQ(sinks, (Strings{"sink.b.plugin=summary", "sink.b.x[]=", "sink.a.plugin=csv",
                              "sink.a.y=2", "sink.a.z[0]=1"}));
    // no roots: no line (the command line's PATHs become the roots)
    for (const std::string &l : lines)
        EXPECT_NE(l.rfind("scan.roots", 0), 0u) << l;
}

}  // namespace
