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
        if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
        if (uid >= 0) {
            gid_t g = (gid_t)uid;
            if (setgroups(1, &g) != 0 || setgid(g) != 0 || setuid((uid_t)uid) != 0) _exit(125);
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

std::string Unescape(const std::string &f) {
    std::string o;
    for (size_t i = 0; i < f.size(); i++) {
        if (f[i] == '\\' && i + 1 < f.size() && f[i + 1] == '\\') {
            o += '\\';
            i++;
        } else if (f[i] == '\\' && i + 3 < f.size() && f[i + 1] == 'x') {
            o += (char)strtol(f.substr(i + 2, 2).c_str(), nullptr, 16);
            i += 3;
        } else {
            o += f[i];
        }
    }
    return o;
}

static void ModelDir(int dfd, const std::string &path, int depth, const struct stat &self,
                     unsigned long long parent_ino, bool is_root,
                     const std::vector<std::string> &skip, std::map<std::string, Expect> *out) {
    Expect me{self, depth, parent_ino};
    me.is_root = is_root;
    int fd = dfd == AT_FDCWD ? open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOATIME)
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
    for (auto &n : names) {
        me.fcount++;
        struct stat st;
        if (fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        me.dirsum += st.st_size;
        std::string p = path + "/" + n;
        if (S_ISDIR(st.st_mode)) {
            bool skipped = false;
            for (auto &s : skip) skipped |= (n == s);
            if (!skipped) ModelDir(fd, p, depth + 1, st, self.st_ino, false, skip, out);
        } else {
            (*out)[p] = Expect{st, depth + 1, (unsigned long long)self.st_ino};
        }
    }
    closedir(d);
    (*out)[path] = me;
}

void Model(const std::string &root, const std::vector<std::string> &skip,
           std::map<std::string, Expect> *out) {
    struct stat st;
    if (lstat(root.c_str(), &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        Expect x{st, -1, 0};
        x.is_root = true;
        (*out)[root] = x;
        return;
    }
    ModelDir(AT_FDCWD, root, -1, st, 0, true, skip, out);
}

std::string Extension(const std::string &name, bool dir_or_root) {
    if (dir_or_root) return "";
    size_t dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0) return "";
    return name.substr(dot + 1);
}

std::string CheckRow(const std::vector<std::string> &row, const Expect &x,
                     const std::string &path) {
    if (row.size() != 17) return "row has " + std::to_string(row.size()) + " columns";
    char mode[16];
    snprintf(mode, sizeof mode, "%07o", (unsigned)x.st.st_mode);
    std::string name = x.is_root ? path : path.substr(path.rfind('/') + 1);
    std::vector<std::pair<std::string, std::string>> want = {
        {"inode", std::to_string(x.st.st_ino)},
        {"parent-inode", std::to_string(x.parent_ino)},
        {"directory-depth", std::to_string(x.depth)},
        {"filename", path},
        {"fileExtension", Extension(name, S_ISDIR(x.st.st_mode) || x.is_root)},
        {"UID", std::to_string(x.st.st_uid)},
        {"GID", std::to_string(x.st.st_gid)},
        {"st_size", std::to_string(x.st.st_size)},
        {"st_dev", std::to_string(x.st.st_dev)},
        {"st_blocks", std::to_string(x.st.st_blocks)},
        {"st_nlink", std::to_string(x.st.st_nlink)},
        {"st_mode", mode},
        {"st_atime", std::to_string(x.st.st_atim.tv_sec)},
        {"st_mtime", std::to_string(x.st.st_mtim.tv_sec)},
        {"st_ctime", std::to_string(x.st.st_ctim.tv_sec)},
        {"pw_fcount", std::to_string(x.fcount)},
        {"pw_dirsum", std::to_string(x.dirsum)},
    };
    for (size_t i = 0; i < 17; i++) {
        std::string got = (i == 3 || i == 4) ? Unescape(row[i]) : row[i];
        if (got != want[i].second)
            return want[i].first + ": got '" + got + "', lstat says '" + want[i].second + "'";
    }
    return "";
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
