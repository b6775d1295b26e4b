// Helpers for end-to-end tests of bazel-bin/pwalk-engine: running it,
// parsing its CSV, and an independent openat-based model of the tree.
// Nothing here shares code with the engine: the parser, the escapers and
// the model are written from ../shared/notes/csv-format.md, so a bug in the
// engine's csvrow or walk cannot hide itself by being reused here.
#ifndef PWALK_TESTS_E2E_UTIL_H
#define PWALK_TESTS_E2E_UTIL_H

#include <fcntl.h>
#include <sys/stat.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace e2e {

struct Result {
    int status = -1;        // exit status, or 128+signal
    std::string out, err;
};

std::string EnginePath();
std::string PluginDir();  // bazel-bin/plugins (runfiles)

// Run argv (argv[0] = program) with cwd; stdout/stderr captured.
// uid >= 0: drop to that uid/gid first (supplementary groups cleared).
Result Run(const std::vector<std::string> &argv, const std::string &cwd = "",
           int uid = -1, const std::vector<std::string> &env_extra = {});

std::string ReadFile(const std::string &path);
void WriteFile(const std::string &path, const std::string &data);
bool Exists(const std::string &path);
std::vector<std::string> ListDir(const std::string &path);

// RFC 4180 parse (quoted fields, "" escapes, newlines inside quotes).
std::vector<std::vector<std::string>> ParseCsv(const std::string &text);
// Undo lossless escaping: \\ -> \, \xHH -> byte.  ("" already collapsed.)
// A backslash followed by anything else is malformed: *ok becomes false.
std::string Unescape(const std::string &field, bool *ok = nullptr);

// The spec's two escapers, for building expected output bytes.
// Lossless: " doubled, \ doubled, control bytes, 0x7f and bytes outside a
// valid UTF-8 sequence as \xHH.  Dey: " doubled, bytes < 0x20 deleted.
std::string EscapeLossless(const std::string &raw);
std::string EscapeDey(const std::string &raw);
bool ValidUtf8(const std::string &s);

struct Expect {
    struct stat st;
    int depth;
    unsigned long long parent_ino;
    long long fcount = -1, dirsum = 0;
    bool is_root = false;
};

// Which entries a scan leaves out, as the pipeline's scan: section says.
struct ModelOptions {
    std::vector<std::string> skip_dirs;  // snapshot names (directories only)
    int max_depth = 0;                   // 0 = no limit; pwalk's --depth N
    bool one_file_system = false;
    // exclude rule: (full path, name) -> left out; empty = none
    std::function<bool(const std::string &, const std::string &)> excluded;
};

// The tree as the spec says the report must show it: every entry under
// root (one row each, lstat via an openat chain so paths past PATH_MAX
// work), directories' fcount/dirsum; filtered entries are counted in their
// parent but not listed.  `root` is used as given (no trailing slash); a
// root that is a symlink is followed (find -H), nothing below it is.
void Model(const std::string &root, const ModelOptions &opt,
           std::map<std::string, Expect> *out);
void Model(const std::string &root, const std::vector<std::string> &skip_dirs,
           std::map<std::string, Expect> *out);

// "a.tar.gz" -> "gz" per the spec's extension rule.
std::string Extension(const std::string &name, bool dir_or_root);

// Check one parsed report row against the model; returns "" or a message.
std::string CheckRow(const std::vector<std::string> &row, const Expect &x,
                     const std::string &path);

// The exact report line (with '\n') the spec prescribes for an entry.
enum class Escape { kLossless, kDey };
std::string ExpectedLine(const Expect &x, const std::string &path, Escape mode);

std::string TempDir(const std::string &tag);
void RemoveTree(const std::string &path);

}  // namespace e2e

#endif
