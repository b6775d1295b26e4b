// Tests for engine/options.c.  Plugins and sinks are built by hand (they
// are plain structs), so each case states exactly what the YAML held; one
// case goes through config.c to check the marks line up with real YAML.
#include <stdio.h>
#include <stdlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" {
#include "engine/config.h"
#include "engine/options.h"
}

namespace {

const pwalk_option_spec kSpecs[] = {
    {"path", PWALK_OPT_STRING, 0, "-", nullptr, "where the output goes"},
    {"verbose", PWALK_OPT_BOOL, 0, "false", nullptr, "say more"},
    {"level", PWALK_OPT_INT, 0, "3", "1..19", "compression level"},
    {"compression", PWALK_OPT_ENUM, 0, "zstd", "none|gzip|zstd", "how to compress"},
    {"fields", PWALK_OPT_STRING_LIST, 0, "[path, 'size', \"mode\"]", nullptr, "columns"},
    {"tags", PWALK_OPT_STRING_LIST, 0, nullptr, nullptr, "labels"},
    {"offset", PWALK_OPT_INT, 0, nullptr, nullptr, "any integer"},
    {"label", PWALK_OPT_STRING, 0, nullptr, nullptr, "optional label"},
};

pwalk_plugin MakePlugin(const pwalk_option_spec *specs, uint32_t n)
{
    pwalk_plugin p = {};
    p.struct_size = sizeof p;
    p.abi_major = PWALK_ABI_MAJOR;
    p.abi_minor = PWALK_ABI_MINOR;
    p.threading = PWALK_THREADING_PER_WORKER;
    p.option_count = n;
    p.name = "inventory";
    p.version = "2.1";
    p.description = "writes one row per entry";
    p.options = specs;
    return p;
}

// A YAML option: a scalar, or a sequence when items is set.
struct Opt {
    std::string key;
    std::string scalar;
    std::vector<std::string> items;
    bool is_list = false;
    int line = 7;
};

Opt S(const std::string &k, const std::string &v, int line = 7)
{
    Opt o;
    o.key = k;
    o.scalar = v;
    o.line = line;
    return o;
}

Opt L(const std::string &k, const std::vector<std::string> &items)
{
    Opt o;
    o.key = k;
    o.items = items;
    o.is_list = true;
    return o;
}

class Options : public ::testing::Test {
  protected:
    void TearDown() override { options_free(opts_); }

    // Bind opts for sink 'out' from pipeline.yaml; values sit at column 12,
    // keys at column 5 of their line (line 0: came from --set).
    int Bind(std::vector<Opt> in, const pwalk_plugin *plugin = nullptr)
    {
        pwalk_plugin def = MakePlugin(kSpecs, sizeof kSpecs / sizeof kSpecs[0]);
        if (!plugin)
            plugin = &def;
        std::vector<cfg_option> o(in.size());
        std::vector<std::vector<char *>> ptrs(in.size());
        for (size_t i = 0; i < in.size(); i++) {
            o[i] = cfg_option{};
            o[i].key = &in[i].key[0];
            o[i].is_list = in[i].is_list;
            if (in[i].is_list) {
                for (auto &s : in[i].items)
                    ptrs[i].push_back(&s[0]);
                o[i].items = ptrs[i].data();
                o[i].item_count = ptrs[i].size();
            } else {
                o[i].scalar = &in[i].scalar[0];
            }
            int line = in[i].line;
            o[i].mark = {line, line ? 12 : 0};
            o[i].key_mark = {line, line ? 5 : 0};
        }
        cfg_sink s = {};
        s.name = const_cast<char *>("out");
        s.plugin = const_cast<char *>("inventory");
        s.options = o.data();
        s.option_count = o.size();
        s.mark = {5, 3};
        options_free(opts_);
        opts_ = nullptr;
        err_[0] = '\0';
        int rc = options_bind(plugin, &s, "pipeline.yaml", &opts_, err_, sizeof err_);
        if (rc != 0) {
            EXPECT_EQ(opts_, nullptr);
        }
        return rc;
    }

    std::string Err() const { return err_; }

    pwalk_options *opts_ = nullptr;
    char err_[1024] = {0};
};

const std::string kAt = "pipeline.yaml:7:12: sink 'out': ";

// ---- BOOL ------------------------------------------------------------------

TEST_F(Options, BoolWordsInAnyCase)
{
    const char *yes[] = {"true", "TRUE", "Yes", "on", "oN"};
    const char *no[] = {"false", "False", "NO", "off", "OFF"};
    for (const char *v : yes) {
        ASSERT_EQ(Bind({S("verbose", v)}), 0) << v << ": " << Err();
        int b = -1;
        ASSERT_EQ(options_get_bool(opts_, "verbose", &b), 0);
        EXPECT_EQ(b, 1) << v;
    }
    for (const char *v : no) {
        ASSERT_EQ(Bind({S("verbose", v)}), 0) << v << ": " << Err();
        int b = -1;
        ASSERT_EQ(options_get_bool(opts_, "verbose", &b), 0);
        EXPECT_EQ(b, 0) << v;
    }
}

TEST_F(Options, BoolRejected)
{
    for (const char *v : {"maybe", "1", "", "truely", "y"}) {
        ASSERT_EQ(Bind({S("verbose", v)}), -1) << v;
        EXPECT_EQ(Err(), kAt + "option 'verbose' must be true or false (or yes/no, on/off), "
                               "got '" + v + "'");
    }
    ASSERT_EQ(Bind({L("verbose", {"true"})}), -1);
    EXPECT_EQ(Err(), kAt + "option 'verbose' takes a single bool value, got a list");
}

// ---- INT -------------------------------------------------------------------

TEST_F(Options, IntAccepted)
{
    int64_t v = 0;
    ASSERT_EQ(Bind({S("level", "19"), S("offset", "-9223372036854775808")}), 0) << Err();
    ASSERT_EQ(options_get_int(opts_, "level", &v), 0);
    EXPECT_EQ(v, 19);
    ASSERT_EQ(options_get_int(opts_, "offset", &v), 0);
    EXPECT_EQ(v, INT64_MIN);
    ASSERT_EQ(Bind({S("level", "+1"), S("offset", "9223372036854775807")}), 0) << Err();
    ASSERT_EQ(options_get_int(opts_, "level", &v), 0);
    EXPECT_EQ(v, 1);
    ASSERT_EQ(options_get_int(opts_, "offset", &v), 0);
    EXPECT_EQ(v, INT64_MAX);
}

TEST_F(Options, IntRejected)
{
    for (const char *v : {"abc", "4x", " 4", "0x10", "", "-", "1.5", "1e3"}) {
        ASSERT_EQ(Bind({S("offset", v)}), -1) << v;
        EXPECT_EQ(Err(), kAt + "option 'offset' must be a decimal integer, got '" + v + "'");
    }
    ASSERT_EQ(Bind({S("offset", "9223372036854775808")}), -1);
    EXPECT_EQ(Err(), kAt + "option 'offset' is outside the 64-bit integer range, got "
                           "'9223372036854775808'");
    ASSERT_EQ(Bind({L("offset", {"1", "2"})}), -1);
    EXPECT_EQ(Err(), kAt + "option 'offset' takes a single int value, got a list");
}

TEST_F(Options, IntRange)
{
    ASSERT_EQ(Bind({S("level", "0")}), -1);
    EXPECT_EQ(Err(), kAt + "option 'level' must be in 1..19, got '0'");
    ASSERT_EQ(Bind({S("level", "20")}), -1);
    EXPECT_EQ(Err(), kAt + "option 'level' must be in 1..19, got '20'");

    // Open-ended ranges.
    const pwalk_option_spec specs[] = {
        {"min", PWALK_OPT_INT, 0, nullptr, "0..", "at least 0"},
        {"max", PWALK_OPT_INT, 0, nullptr, "..-1", "negative"},
    };
    pwalk_plugin p = MakePlugin(specs, 2);
    EXPECT_EQ(Bind({S("min", "123456789"), S("max", "-5")}, &p), 0) << Err();
    ASSERT_EQ(Bind({S("min", "-1")}, &p), -1);
    EXPECT_EQ(Err(), kAt + "option 'min' must be in 0.., got '-1'");
    ASSERT_EQ(Bind({S("max", "0")}, &p), -1);
    EXPECT_EQ(Err(), kAt + "option 'max' must be in ..-1, got '0'");
}

TEST_F(Options, MalformedRangeIsThePluginsFault)
{
    const pwalk_option_spec specs[] = {{"n", PWALK_OPT_INT, 0, nullptr, "1-10", "n"}};
    pwalk_plugin p = MakePlugin(specs, 1);
    ASSERT_EQ(Bind({S("n", "5")}, &p), -1);
    EXPECT_EQ(Err(), "plugin 'inventory' (sink 'out'): bad option declaration: option 'n' "
                     "declares range "
                     "'1-10', not min..max");
}

// ---- ENUM ------------------------------------------------------------------

TEST_F(Options, Enum)
{
    const char *s = nullptr;
    for (const char *v : {"none", "gzip", "zstd"}) {
        ASSERT_EQ(Bind({S("compression", v)}), 0) << Err();
        ASSERT_EQ(options_get_string(opts_, "compression", &s), 0);
        EXPECT_STREQ(s, v);
    }
    for (const char *v : {"lz4", "ZSTD", "", "zst", "gzip|zstd"}) {
        ASSERT_EQ(Bind({S("compression", v)}), -1) << v;
        EXPECT_EQ(Err(), kAt + "option 'compression' must be one of none|gzip|zstd, got '" + v +
                             "'");
    }
}

// ---- STRING and STRING_LIST ---------------------------------------------------

TEST_F(Options, String)
{
    const char *s = nullptr;
    ASSERT_EQ(Bind({S("path", "/data/out.csv"), S("label", "")}), 0) << Err();
    ASSERT_EQ(options_get_string(opts_, "path", &s), 0);
    EXPECT_STREQ(s, "/data/out.csv");
    ASSERT_EQ(options_get_string(opts_, "label", &s), 0);
    EXPECT_STREQ(s, "");
    ASSERT_EQ(Bind({L("path", {"a", "b"})}), -1);
    EXPECT_EQ(Err(), kAt + "option 'path' takes a single string value, got a list");
}

TEST_F(Options, StringList)
{
    size_t n = 99;
    const char *s = nullptr;
    ASSERT_EQ(Bind({L("tags", {"a", "b c", ""})}), 0) << Err();
    ASSERT_EQ(options_get_list_count(opts_, "tags", &n), 0);
    ASSERT_EQ(n, 3u);
    ASSERT_EQ(options_get_list_item(opts_, "tags", 1, &s), 0);
    EXPECT_STREQ(s, "b c");
    ASSERT_EQ(options_get_list_item(opts_, "tags", 2, &s), 0);
    EXPECT_STREQ(s, "");
    EXPECT_EQ(options_get_list_item(opts_, "tags", 3, &s), -1);

    // A single scalar is a one-item list.
    ASSERT_EQ(Bind({S("tags", "solo")}), 0) << Err();
    ASSERT_EQ(options_get_list_count(opts_, "tags", &n), 0);
    ASSERT_EQ(n, 1u);
    ASSERT_EQ(options_get_list_item(opts_, "tags", 0, &s), 0);
    EXPECT_STREQ(s, "solo");

    // An empty sequence is an empty list, not a missing value.
    ASSERT_EQ(Bind({L("tags", {})}), 0) << Err();
    ASSERT_EQ(options_get_list_count(opts_, "tags", &n), 0);
    EXPECT_EQ(n, 0u);
}

// ---- Defaults ---------------------------------------------------------------

TEST_F(Options, DefaultsApplied)
{
    ASSERT_EQ(Bind({}), 0) << Err();
    const char *s = nullptr;
    int b = -1;
    int64_t i = 0;
    size_t n = 0;
    ASSERT_EQ(options_get_string(opts_, "path", &s), 0);
    EXPECT_STREQ(s, "-");
    ASSERT_EQ(options_get_bool(opts_, "verbose", &b), 0);
    EXPECT_EQ(b, 0);
    ASSERT_EQ(options_get_int(opts_, "level", &i), 0);
    EXPECT_EQ(i, 3);
    ASSERT_EQ(options_get_string(opts_, "compression", &s), 0);
    EXPECT_STREQ(s, "zstd");
    ASSERT_EQ(options_get_list_count(opts_, "fields", &n), 0);
    ASSERT_EQ(n, 3u);
    const char *want[] = {"path", "size", "mode"};
    for (size_t k = 0; k < 3; k++) {
        ASSERT_EQ(options_get_list_item(opts_, "fields", k, &s), 0);
        EXPECT_STREQ(s, want[k]);
    }
    // No default and not set: declared, but no value.
    EXPECT_EQ(options_get_list_count(opts_, "tags", &n), -2);
    EXPECT_EQ(options_get_int(opts_, "offset", &i), -2);
    EXPECT_EQ(options_get_string(opts_, "label", &s), -2);
}

TEST_F(Options, SetValueBeatsDefault)
{
    ASSERT_EQ(Bind({S("level", "9"), L("fields", {"uid"})}), 0) << Err();
    int64_t i = 0;
    size_t n = 0;
    ASSERT_EQ(options_get_int(opts_, "level", &i), 0);
    EXPECT_EQ(i, 9);
    ASSERT_EQ(options_get_list_count(opts_, "fields", &n), 0);
    EXPECT_EQ(n, 1u);
}

TEST_F(Options, ListDefaultForms)
{
    const pwalk_option_spec specs[] = {
        {"one", PWALK_OPT_STRING_LIST, 0, "solo", nullptr, ""},
        {"none", PWALK_OPT_STRING_LIST, 0, "[ ]", nullptr, ""},
    };
    pwalk_plugin p = MakePlugin(specs, 2);
    ASSERT_EQ(Bind({}, &p), 0) << Err();
    size_t n = 9;
    const char *s = nullptr;
    ASSERT_EQ(options_get_list_count(opts_, "one", &n), 0);
    ASSERT_EQ(n, 1u);
    ASSERT_EQ(options_get_list_item(opts_, "one", 0, &s), 0);
    EXPECT_STREQ(s, "solo");
    ASSERT_EQ(options_get_list_count(opts_, "none", &n), 0);
    EXPECT_EQ(n, 0u);
}

TEST_F(Options, BadDefaultIsReportedAgainstThePlugin)
{
    const pwalk_option_spec specs[] = {
        {"level", PWALK_OPT_INT, 0, "high", nullptr, "level"},
    };
    pwalk_plugin p = MakePlugin(specs, 1);
    ASSERT_EQ(Bind({}, &p), -1);
    EXPECT_EQ(Err(), "plugin 'inventory' (sink 'out'): bad default: option 'level' must be a "
                     "decimal integer, got 'high'");
    // A value from the pipeline means the default is never parsed.
    EXPECT_EQ(Bind({S("level", "4")}, &p), 0) << Err();
}

// ---- Unknown, repeated, --set ---------------------------------------------------

TEST_F(Options, UnknownOptionListsKnownOnes)
{
    ASSERT_EQ(Bind({S("path", "x", 6), S("colour", "red")}), -1);
    EXPECT_EQ(Err(), "pipeline.yaml:7:5: sink 'out': unknown option 'colour' for plugin "
                     "'inventory' (known: path, verbose, level, compression, fields, tags, "
                     "offset, label)");
}

TEST_F(Options, UnknownOptionForPluginWithoutOptions)
{
    pwalk_plugin p = MakePlugin(nullptr, 0);
    ASSERT_EQ(Bind({}, &p), 0) << Err();
    ASSERT_EQ(Bind({S("path", "x")}, &p), -1);
    EXPECT_EQ(Err(), "pipeline.yaml:7:5: sink 'out': unknown option 'path' for plugin "
                     "'inventory' (it takes no options)");
}

TEST_F(Options, SetTwice)
{
    ASSERT_EQ(Bind({S("level", "2", 6), S("level", "4", 7)}), -1);
    EXPECT_EQ(Err(), "pipeline.yaml:7:5: sink 'out': option 'level' is set twice");
}

TEST_F(Options, CommandLineOrigin)
{
    ASSERT_EQ(Bind({S("level", "30", 0)}), -1);
    EXPECT_EQ(Err(), "--set: sink 'out': option 'level' must be in 1..19, got '30'");
    ASSERT_EQ(Bind({S("nope", "1", 0)}), -1);
    EXPECT_EQ(Err().substr(0, 52), "--set: sink 'out': unknown option 'nope' for plugin ");
}

TEST_F(Options, ControlCharactersInValuesAreEscaped)
{
    ASSERT_EQ(Bind({S("verbose", "yes\nno\x1b[31m")}), -1);
    EXPECT_EQ(Err(), kAt + "option 'verbose' must be true or false (or yes/no, on/off), got "
                           "'yes\\x0ano\\x1b[31m'");
}

TEST_F(Options, LongValuesAreCut)
{
    std::string v(500, 'z');
    ASSERT_EQ(Bind({S("offset", v)}), -1);
    std::string e = Err();
    EXPECT_LT(e.size(), 300u);
    EXPECT_EQ(e.substr(e.size() - 5), "z...'");
}

TEST_F(Options, TinyErrorBufferIsTerminated)
{
    pwalk_plugin p = MakePlugin(kSpecs, 8);
    std::string k = "x", v = "y";
    cfg_option o = {};
    o.key = &k[0];
    o.scalar = &v[0];
    o.mark = {1, 1};
    cfg_sink s = {};
    s.name = const_cast<char *>("out");
    s.options = &o;
    s.option_count = 1;
    char small[10];
    memset(small, 'x', sizeof small);
    pwalk_options *out = nullptr;
    ASSERT_EQ(options_bind(&p, &s, "f.yaml", &out, small, sizeof small), -1);
    EXPECT_EQ(strlen(small), sizeof small - 1);
    EXPECT_EQ(out, nullptr);
}

// ---- Getters' return codes ------------------------------------------------------

TEST_F(Options, GetterReturnCodes)
{
    ASSERT_EQ(Bind({L("tags", {"a"})}), 0) << Err();
    const char *s = nullptr;
    int b = 0;
    int64_t i = 0;
    size_t n = 0;
    // Unknown option.
    EXPECT_EQ(options_get_string(opts_, "nope", &s), -1);
    EXPECT_EQ(options_get_bool(opts_, "nope", &b), -1);
    EXPECT_EQ(options_get_int(opts_, "nope", &i), -1);
    EXPECT_EQ(options_get_list_count(opts_, "nope", &n), -1);
    EXPECT_EQ(options_get_list_item(opts_, "nope", 0, &s), -1);
    // Wrong type.
    EXPECT_EQ(options_get_int(opts_, "path", &i), -1);
    EXPECT_EQ(options_get_string(opts_, "verbose", &s), -1);
    EXPECT_EQ(options_get_bool(opts_, "level", &b), -1);
    EXPECT_EQ(options_get_string(opts_, "tags", &s), -1);
    EXPECT_EQ(options_get_list_count(opts_, "path", &n), -1);
    // Declared, no value (a wrong type still says -1 first).
    EXPECT_EQ(options_get_int(opts_, "offset", &i), -2);
    EXPECT_EQ(options_get_bool(opts_, "offset", &b), -1);
    // No options at all, or no name.
    EXPECT_EQ(options_get_string(nullptr, "path", &s), -1);
    EXPECT_EQ(options_get_string(opts_, nullptr, &s), -1);
    // Out-parameters untouched on failure.
    s = "keep";
    EXPECT_EQ(options_get_list_item(opts_, "tags", 5, &s), -1);
    EXPECT_STREQ(s, "keep");
    options_free(nullptr);
}

TEST_F(Options, ValuesAreCopies)
{
    std::vector<Opt> in = {S("path", "/a/b")};
    ASSERT_EQ(Bind(in), 0) << Err();
    in[0].scalar = "overwritten";
    const char *s = nullptr;
    ASSERT_EQ(options_get_string(opts_, "path", &s), 0);
    EXPECT_STREQ(s, "/a/b");
}

// ---- Through the real YAML loader --------------------------------------------------

TEST_F(Options, MarksFromYaml)
{
    const char yaml[] = "version: 1\n"
                        "sinks:\n"
                        "  - name: out\n"
                        "    plugin: inventory\n"
                        "    options:\n"
                        "      level: 42\n";
    cfg_pipeline p;
    char err[512];
    ASSERT_EQ(cfg_load_string(yaml, sizeof yaml - 1, "audit.yaml", &p, err, sizeof err), 0)
        << err;
    ASSERT_EQ(p.sink_count, 1u);
    pwalk_plugin pl = MakePlugin(kSpecs, sizeof kSpecs / sizeof kSpecs[0]);
    ASSERT_EQ(options_bind(&pl, &p.sinks[0], p.source, &opts_, err_, sizeof err_), -1);
    EXPECT_EQ(Err(), "audit.yaml:6:14: sink 'out': option 'level' must be in 1..19, got '42'");

    // The same value given with --set has no file position.
    ASSERT_EQ(cfg_apply_set(&p, "out.level=77", err, sizeof err), 0) << err;
    ASSERT_EQ(options_bind(&pl, &p.sinks[0], p.source, &opts_, err_, sizeof err_), -1);
    EXPECT_EQ(Err(), "--set: sink 'out': option 'level' must be in 1..19, got '77'");
    cfg_free(&p);
}

// ---- --describe -----------------------------------------------------------------

std::string Describe(const pwalk_plugin &p, const char *path)
{
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    options_describe(&p, path, f);
    fclose(f);
    std::string s(buf, len);
    free(buf);
    return s;
}

TEST_F(Options, DescribeListsEverything)
{
    pwalk_plugin p = MakePlugin(kSpecs, sizeof kSpecs / sizeof kSpecs[0]);
    std::string d = Describe(p, "/opt/pwalk/plugins/inventory.so");
    std::string abi = "abi:         1." + std::to_string(PWALK_ABI_MINOR) + "\n";
    for (std::string want :
         {std::string("plugin:      inventory\n"), std::string("version:     2.1\n"),
          std::string("file:        /opt/pwalk/plugins/inventory.so\n"),
          std::string("description: writes one row per entry\n"), abi,
          std::string("threading:   per-worker"), std::string("options:\n")})
        EXPECT_NE(d.find(want), std::string::npos) << want << "\n" << d;
    EXPECT_EQ(d.find("mutates"), std::string::npos) << d;
    // One line per option, with name, type (and choices), default and help.
    for (const auto &spec : kSpecs) {
        size_t at = d.find("\n  " + std::string(spec.name) + " ");
        ASSERT_NE(at, std::string::npos) << spec.name << "\n" << d;
        std::string line = d.substr(at + 1, d.find('\n', at + 1) - at - 1);
        EXPECT_NE(line.find(spec.help), std::string::npos) << line;
        if (spec.default_value) {
            EXPECT_NE(line.find("default \"" + std::string(spec.default_value) + "\""),
                      std::string::npos)
                << line;
        } else {
            EXPECT_NE(line.find("no default"), std::string::npos) << line;
        }
        if (spec.choices) {
            EXPECT_NE(line.find(spec.choices), std::string::npos) << line;
        }
    }
    EXPECT_NE(d.find("  level        int 1..19"), std::string::npos) << d;
    EXPECT_NE(d.find("enum none|gzip|zstd"), std::string::npos) << d;
    EXPECT_NE(d.find("string list"), std::string::npos) << d;
}

TEST_F(Options, DescribeMutatingSerialPluginWithoutOptions)
{
    pwalk_plugin p = MakePlugin(nullptr, 0);
    p.flags = PWALK_PLUGIN_MUTATES_FS;
    p.threading = PWALK_THREADING_SERIAL;
    p.version = nullptr;
    std::string d = Describe(p, nullptr);
    EXPECT_NE(d.find("mutates the filesystem"), std::string::npos) << d;
    EXPECT_NE(d.find("allow_mutation: true"), std::string::npos) << d;
    EXPECT_NE(d.find("threading:   serial"), std::string::npos) << d;
    EXPECT_NE(d.find("version:     (none)"), std::string::npos) << d;
    EXPECT_NE(d.find("options:     none"), std::string::npos) << d;
    EXPECT_EQ(d.find("file:"), std::string::npos) << d;
}

// ---- outputs (ABI 1.2: PWALK_OPTION_OUTPUT) ------------------------------------

// A 1.2 plugin says which options are files it writes; the name means
// nothing: `dest` is an output, an unflagged `path` or `log` is not.
TEST_F(Options, OutputIsTheFlagNotTheName)
{
    const pwalk_option_spec specs[] = {
        {"dest", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, nullptr, nullptr, "the file"},
        {"path", PWALK_OPT_STRING, 0, nullptr, nullptr, "a label, not a file"},
        {"log", PWALK_OPT_STRING, 0, nullptr, nullptr, "a label, not a file"},
    };
    pwalk_plugin p = MakePlugin(specs, 3);
    ASSERT_GE(PWALK_ABI_MINOR, 2);
    EXPECT_TRUE(options_is_output(&p, &specs[0]));
    EXPECT_FALSE(options_is_output(&p, &specs[1]));
    EXPECT_FALSE(options_is_output(&p, &specs[2]));
    std::string d = Describe(p, nullptr);
    EXPECT_NE(d.find("  dest  output file  no default"), std::string::npos) << d;
    EXPECT_NE(d.find("  path  string       no default"), std::string::npos) << d;
}

// A plugin built against 1.0 or 1.1 had a reserved field there, which the
// engine does not read: its string options named path and log are taken as
// outputs, as before 1.2, and nothing else is, whatever the field holds.
TEST_F(Options, OlderMinorOutputsAreGuessedByName)
{
    const pwalk_option_spec specs[] = {
        {"dest", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, nullptr, nullptr, "the file"},
        {"path", PWALK_OPT_STRING, 0, nullptr, nullptr, "the report"},
        {"log", PWALK_OPT_STRING, 0, nullptr, nullptr, "the change log"},
        {"path", PWALK_OPT_STRING_LIST, 0, nullptr, nullptr, "not a string"},
    };
    for (uint32_t minor : {0u, 1u}) {
        pwalk_plugin p = MakePlugin(specs, 4);
        p.abi_minor = minor;
        EXPECT_FALSE(options_is_output(&p, &specs[0])) << minor;
        EXPECT_TRUE(options_is_output(&p, &specs[1])) << minor;
        EXPECT_TRUE(options_is_output(&p, &specs[2])) << minor;
        EXPECT_FALSE(options_is_output(&p, &specs[3])) << minor;
    }
}

} // namespace
