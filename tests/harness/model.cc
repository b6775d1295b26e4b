#include "tests/harness/model.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "tests/harness/csv.h"

namespace harness {

namespace {

struct Walk {
    const ModelOptions &opt;
    dev_t root_dev;
    std::map<std::string, Expect> *out;
};

std::vector<std::string> Names(DIR *d)
{
    std::vector<std::string> names;
    while (struct dirent *de = readdir(d)) {
        std::string n = de->d_name;
        if (n != "." && n != "..")
            names.push_back(n);
    }
    return names;
}

// Is the entry `n` (at p, `level` levels below the root) left out?
bool Filtered(const Walk &w, const std::string &p, const std::string &n, bool is_dir,
              int level)
{
    if (is_dir)
        for (auto &s : w.opt.skip_dirs)
            if (n == s)
                return true;
    // pwalk's --depth N: directories down to level N are read; the
    // directories at level N+1 get no row (files there do)
    if (w.opt.max_depth > 0 && is_dir && level == w.opt.max_depth + 1)
        return true;
    return w.opt.excluded && w.opt.excluded(p, n);
}

void ModelDir(const Walk &w, int dfd, const std::string &path, int depth,
              const struct stat &self, unsigned long long parent_ino, bool is_root)
{
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
        (*w.out)[path] = me;
        return;
    }
    DIR *d = fdopendir(fd);
    std::vector<std::string> names = Names(d);
    me.fcount = 0;
    const int level = depth + 2;  // levels below the root of this dir's entries
    for (auto &n : names) {
        me.fcount++;  // every name read counts, filtered or not
        struct stat st;
        if (fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (w.opt.one_file_system && st.st_dev != w.root_dev)
            continue;  // not in dirsum either
        me.dirsum += st.st_size;
        std::string p = path + "/" + n;
        bool is_dir = S_ISDIR(st.st_mode);
        if (Filtered(w, p, n, is_dir, level))
            continue;
        if (is_dir)
            ModelDir(w, fd, p, depth + 1, st, self.st_ino, false);
        else
            (*w.out)[p] = Expect{st, depth + 1, (unsigned long long)self.st_ino};
    }
    closedir(d);
    (*w.out)[path] = me;
}

std::vector<std::string> WantColumns(const Expect &x, const std::string &path)
{
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

}  // namespace

void Model(const std::string &root, const ModelOptions &opt,
           std::map<std::string, Expect> *out)
{
    struct stat st;
    // a symlink root is its target (stat), a dangling one the link itself
    if (stat(root.c_str(), &st) != 0 && lstat(root.c_str(), &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        Expect x{st, -1, 0};
        x.is_root = true;
        (*out)[root] = x;
        return;
    }
    Walk w{opt, st.st_dev, out};
    ModelDir(w, AT_FDCWD, root, -1, st, 0, true);
}

void Model(const std::string &root, const std::vector<std::string> &skip,
           std::map<std::string, Expect> *out)
{
    ModelOptions o;
    o.skip_dirs = skip;
    Model(root, o, out);
}

std::string Extension(const std::string &name, bool dir_or_root)
{
    if (dir_or_root)
        return "";
    size_t dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0)
        return "";
    return name.substr(dot + 1);
}

std::string CheckRow(const std::vector<std::string> &row, const Expect &x,
                     const std::string &path)
{
    if (row.size() != kColumns)
        return "row has " + std::to_string(row.size()) + " columns";
    std::vector<std::string> want = WantColumns(x, path);
    for (size_t i = 0; i < kColumns; i++) {
        bool ok = true;
        std::string got = (i == kFilename || i == kExtension) ? Unescape(row[i], &ok) : row[i];
        if (!ok)
            return std::string(kColumnNames[i]) + ": malformed escape in '" + row[i] + "'";
        if (got != want[i])
            return std::string(kColumnNames[i]) + ": got '" + got + "', lstat says '" +
                   want[i] + "'";
    }
    return "";
}

std::string ExpectedLine(const Expect &x, const std::string &path, Escape mode)
{
    std::vector<std::string> c = WantColumns(x, path);
    auto esc = mode == Escape::kLossless ? EscapeLossless : EscapeDey;
    std::string line;
    for (size_t i = 0; i < c.size(); i++) {
        if (i)
            line += ',';
        // filename, fileExtension and st_mode are the quoted columns
        if (i == kFilename || i == kExtension)
            line += "\"" + esc(c[i]) + "\"";
        else if (i == kMode)
            line += "\"" + c[i] + "\"";
        else
            line += c[i];
    }
    return line + "\n";
}

}  // namespace harness
