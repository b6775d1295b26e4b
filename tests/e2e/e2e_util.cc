#include "tests/e2e/e2e_util.h"

#include <dirent.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace e2e {

std::string EnginePath() {
    const char *r = getenv("TEST_SRCDIR");
    return std::string(r ? r : ".") + "/pwalk/pwalk-engine";
}

std::string PluginDir() {
    const char *r = getenv("TEST_SRCDIR");
    return std::string(r ? r : ".") + "/pwalk/plugins";
}

static std::string Slurp(int fd) {
    std::string s;
    char buf[65536];
    lseek(fd, 0, SEEK_SET);
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, (size_t)n);
    return s;
}

Result Run(const std::vector<std::string> &argv, const std::string &cwd, int uid,
           const std::vector<std::string> &env_extra) {
    Result r;
    FILE *o = tmpfile(), *e = tmpfile();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(o), 1);
        dup2(fileno(e), 2);
        int devnull = open("/dev/null", O_RDONLY);  // the engine must not need stdin
        if (devnull >= 0) dup2(devnull, 0);
        if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
        if (uid >= 0) {
            // no supplementary groups: root's would grant access to the
            // very directories the test wants to be unreadable
            if (setgroups(0, nullptr) != 0 || setgid((gid_t)uid) != 0 ||
                setuid((uid_t)uid) != 0)
                _exit(125);
        }
        for (auto &kv : env_extra) putenv(strdup(kv.c_str()));
        std::vector<char *> args;
        for (auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = Slurp(fileno(o));
    r.err = Slurp(fileno(e));
    fclose(o);
    fclose(e);
    return r;
}

std::string ReadFile(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void WriteFile(const std::string &path, const std::string &data) {
    std::ofstream f(path, std::ios::binary);
    f << data;
}

bool Exists(const std::string &path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListDir(const std::string &path) {
    std::vector<std::string> names;
    DIR *d = opendir(path.c_str());
    if (!d) return names;
    while (struct dirent *de = readdir(d)) {
        std::string n = de->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    return names;
}

std::vector<std::vector<std::string>> ParseCsv(const std::string &t) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, any = false;
    for (size_t i = 0; i < t.size(); i++) {
        char c = t[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < t.size() && t[i + 1] == '"') {
                    field += '"';
                    i++;
                } else {
                    quoted = false;
                }
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
            any = true;
        } else if (c == ',') {
            row.push_back(field);
            field.clear();
        } else if (c == '\n') {
            row.push_back(field);
            rows.push_back(row);
            row.clear();
            field.clear();
            any = false;
        } else {
            field += c;
            any = true;
        }
    }
    if (any || !field.empty() || !row.empty()) {
        row.push_back(field);
        rows.push_back(row);
    }
    return rows;
}

std::string Unescape(const std::string &f, bool *ok) {
    std::string o;
    auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
    for (size_t i = 0; i < f.size(); i++) {
        if (f[i] != '\\') {
            o += f[i];
        } else if (i + 1 < f.size() && f[i + 1] == '\\') {
            o += '\\';
            i++;
        } else if (i + 3 < f.size() && f[i + 1] == 'x' && hex(f[i + 2]) && hex(f[i + 3])) {
            o += (char)strtol(f.substr(i + 2, 2).c_str(), nullptr, 16);
            i += 3;
        } else {
            // the spec has no other escape: a lone backslash means the
            // writer forgot to double it
            if (ok) *ok = false;
            o += f[i];
        }
    }
    return o;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0.  Strict
// (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF --
// what DuckDB's reader accepts.
static size_t Utf8SeqLen(const std::string &s, size_t i) {
    auto b = [&](size_t k) { return (unsigned char)s[k]; };
    auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
    unsigned char c = b(i);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(i + 1) || !cont(i + 2)) return 0;
        if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
        if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
        if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // > U+10FFFF
        return 4;
    }
    return 0;
}

bool ValidUtf8(const std::string &s) {
    for (size_t i = 0; i < s.size();) {
        size_t n = Utf8SeqLen(s, i);
        if (!n) return false;
        i += n;
    }
    return true;
}

std::string EscapeLossless(const std::string &raw) {
    std::string o;
    for (size_t i = 0; i < raw.size();) {
        unsigned char c = (unsigned char)raw[i];
        size_t n = Utf8SeqLen(raw, i);
        if (c == '"') {
            o += "\"\"";
        } else if (c == '\\') {
            o += "\\\\";
        } else if (c < 0x20 || c == 0x7f || n == 0) {
            char buf[8];
            snprintf(buf, sizeof buf, "\\x%02x", c);
            o += buf;
        } else {
            o.append(raw, i, n);
            i += n;
            continue;
        }
        i++;
    }
    return o;
}

std::string EscapeDey(const std::string &raw) {
    std::string o;
    for (unsigned char c : raw) {
        if (c == '"') o += "\"\"";
        else if (c >= 0x20) o += (char)c;
    }
    return o;
}

static void ModelDir(int dfd, const std::string &path, int depth, const struct stat &self,
                     unsigned long long parent_ino, bool is_root, dev_t root_dev,
                     const ModelOptions &opt, std::map<std::string, Expect> *out) {
    Expect me{self, depth, parent_ino};
    me.is_root = is_root;
    // O_NOATIME: the engine's rows carry atimes; this walk must not move them
    // a root is followed when it is a symlink (as find -H does)
    int fd = dfd == AT_FDCWD ? open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOATIME)
                             : openat(dfd, path.substr(path.rfind('/') + 1).c_str(),
                                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOATIME);
    if (fd < 0) {  // unreadable: the spec's -1/0 row
        me.fcount = -1;
        me.dirsum = 0;
        (*out)[path] = me;
        return;
    }
    DIR *d = fdopendir(fd);
    std::vector<std::string> names;
    while (struct dirent *de = readdir(d)) {
        std::string n = de->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    me.fcount = 0;
    const int level = depth + 2;  // levels below the root of this dir's entries
    for (auto &n : names) {
        me.fcount++;  // every name read counts, filtered or not
        struct stat st;
        if (fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (opt.one_file_system && st.st_dev != root_dev) continue;  // not in dirsum either
        me.dirsum += st.st_size;
        std::string p = path + "/" + n;
        bool is_dir = S_ISDIR(st.st_mode);
        bool skipped = false;
        if (is_dir)
            for (auto &s : opt.skip_dirs) skipped |= (n == s);
        // pwalk's --depth N: directories down to level N are read; the
        // directories at level N+1 get no row (files there do)
        if (opt.max_depth > 0 && is_dir && level == opt.max_depth + 1) skipped = true;
        if (opt.excluded && opt.excluded(p, n)) skipped = true;
        if (skipped) continue;
        if (is_dir)
            ModelDir(fd, p, depth + 1, st, self.st_ino, false, root_dev, opt, out);
        else
            (*out)[p] = Expect{st, depth + 1, (unsigned long long)self.st_ino};
    }
    closedir(d);
    (*out)[path] = me;
}

void Model(const std::string &root, const ModelOptions &opt,
           std::map<std::string, Expect> *out) {
    struct stat st;
    // a symlink root is its target (stat), a dangling one the link itself
    if (stat(root.c_str(), &st) != 0 && lstat(root.c_str(), &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        Expect x{st, -1, 0};
        x.is_root = true;
        (*out)[root] = x;
        return;
    }
    ModelDir(AT_FDCWD, root, -1, st, 0, true, st.st_dev, opt, out);
}

void Model(const std::string &root, const std::vector<std::string> &skip,
           std::map<std::string, Expect> *out) {
    ModelOptions o;
    o.skip_dirs = skip;
    Model(root, o, out);
}

std::string Extension(const std::string &name, bool dir_or_root) {
    if (dir_or_root) return "";
    size_t dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0) return "";
    return name.substr(dot + 1);
}

static std::vector<std::string> WantColumns(const Expect &x, const std::string &path) {
    char mode[16];
    snprintf(mode, sizeof mode, "%07o", (unsigned)x.st.st_mode);
    std::string name = x.is_root ? path : path.substr(path.rfind('/') + 1);
    return {
        std::to_string(x.st.st_ino),
        std::to_string(x.parent_ino),
        std::to_string(x.depth),
        path,
        Extension(name, S_ISDIR(x.st.st_mode) || x.is_root),
        std::to_string(x.st.st_uid),
        std::to_string(x.st.st_gid),
        std::to_string(x.st.st_size),
        std::to_string(x.st.st_dev),
        std::to_string(x.st.st_blocks),
        std::to_string(x.st.st_nlink),
        mode,
        std::to_string(x.st.st_atim.tv_sec),
        std::to_string(x.st.st_mtim.tv_sec),
        std::to_string(x.st.st_ctim.tv_sec),
        std::to_string(x.fcount),
        std::to_string(x.dirsum),
    };
}

std::string CheckRow(const std::vector<std::string> &row, const Expect &x,
                     const std::string &path) {
    static const char *const kNames[17] = {
        "inode",  "parent-inode", "directory-depth", "filename", "fileExtension", "UID",
        "GID",    "st_size",      "st_dev",          "st_blocks", "st_nlink",     "st_mode",
        "st_atime", "st_mtime",   "st_ctime",        "pw_fcount", "pw_dirsum"};
    if (row.size() != 17) return "row has " + std::to_string(row.size()) + " columns";
    std::vector<std::string> want = WantColumns(x, path);
    for (size_t i = 0; i < 17; i++) {
        bool ok = true;
        std::string got = (i == 3 || i == 4) ? Unescape(row[i], &ok) : row[i];
        if (!ok) return std::string(kNames[i]) + ": malformed escape in '" + row[i] + "'";
        if (got != want[i])
            return std::string(kNames[i]) + ": got '" + got + "', lstat says '" + want[i] + "'";
    }
    return "";
}

std::string ExpectedLine(const Expect &x, const std::string &path, Escape mode) {
    std::vector<std::string> c = WantColumns(x, path);
    auto esc = mode == Escape::kLossless ? EscapeLossless : EscapeDey;
    std::string line;
    for (size_t i = 0; i < c.size(); i++) {
        if (i) line += ',';
        // filename, fileExtension and st_mode are the quoted columns
        if (i == 3 || i == 4) line += "\"" + esc(c[i]) + "\"";
        else if (i == 11) line += "\"" + c[i] + "\"";
        else line += c[i];
    }
    return line + "\n";
}

std::string TempDir(const std::string &tag) {
    std::string t = "/tmp/pwalk-" + tag + "-XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) abort();
    chmod(buf.data(), 0755);
    return buf.data();
}

void RemoveTree(const std::string &path) {
    if (path.rfind("/tmp/pwalk-", 0) != 0) return;
    Run({"/bin/rm", "-rf", path});
}

}  // namespace e2e
