// Helpers for end-to-end tests of bazel-bin/pwalk-engine: running it,
// parsing its CSV, and an independent openat-based model of the tree.
#ifndef PWALK_TESTS_E2E_UTIL_H
#define PWALK_TESTS_E2E_UTIL_H

#include <fcntl.h>
#include <sys/stat.h>

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
// uid >= 0: drop to that uid/gid first.
Result Run(const std::vector<std::string> &argv, const std::string &cwd = "",
           int uid = -1, const std::vector<std::string> &env_extra = {});

std::string ReadFile(const std::string &path);
void WriteFile(const std::string &path, const std::string &data);
bool Exists(const std::string &path);
std::vector<std::string> ListDir(const std::string &path);

// RFC 4180 parse (quoted fields, "" escapes, newlines inside quotes).
std::vector<std::vector<std::string>> ParseCsv(const std::string &text);
// Undo lossless escaping: \\ -> \, \xHH -> byte.  ("" already collapsed.)
std::string Unescape(const std::string &field);

struct Expect {
    struct stat st;
    int depth;
    unsigned long long parent_ino;
    long long fcount = -1, dirsum = 0;
    bool is_root = false;
};
// The tree as the spec says the report must show it: every entry under
// root (one row each, lstat), directories' fcount/dirsum; names of
// directories in `skip_dirs` are counted in their parent but not listed.
void Model(const std::string &root, const std::vector<std::string> &skip_dirs,
           std::map<std::string, Expect> *out);

// "a.tar.gz" -> "gz" per the spec's extension rule.
std::string Extension(const std::string &name, bool dir_or_root);

// Check one parsed report row against the model; returns "" or a message.
std::string CheckRow(const std::vector<std::string> &row, const Expect &x,
                     const std::string &path);

std::string TempDir(const std::string &tag);
void RemoveTree(const std::string &path);

}  // namespace e2e

#endif
