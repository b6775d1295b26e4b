// model.h -- an independent openat-based model of a tree: the rows the
// report must hold, as plugins/csv/FORMAT.md says, each checked against lstat.
#ifndef PWALK_TESTS_HARNESS_MODEL_H
#define PWALK_TESTS_HARNESS_MODEL_H

#include <sys/stat.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace harness {

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

}  // namespace harness

#endif
