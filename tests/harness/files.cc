#include "tests/harness/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

namespace harness {

bool ReadFile(const std::string &path, std::string *data)
{
    data->clear();
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            data->append(buf, (size_t)n);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == 0;
}

std::string ReadFile(const std::string &path)
{
    std::string s;
    ReadFile(path, &s);
    return s;
}

bool WriteFile(const std::string &path, const std::string &data)
{
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return false;
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return close(fd) == 0 && done == data.size();
}

bool Exists(const std::string &path)
{
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListDir(const std::string &dir)
{
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return out;
    while (struct dirent *e = readdir(d))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            out.push_back(e->d_name);
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> TempOutputs(const std::string &dir)
{
    std::vector<std::string> v;
    for (const std::string &n : ListDir(dir))
        if (n.find(".pwalk-tmp-") != std::string::npos)
            v.push_back(n);
    return v;
}

// Empties the directory open at fd of everything that unlinks at once;
// returns the name of a non-empty subdirectory still in it, or "".
static std::string EmptyOrFindSubdir(int fd)
{
    fchmod(fd, 0700);
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : nullptr;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return "";
    }
    std::string sub;
    while (struct dirent *e = readdir(d)) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(fd, e->d_name, 0) == 0 || unlinkat(fd, e->d_name, AT_REMOVEDIR) == 0)
            continue;
        sub = e->d_name;  // a non-empty directory: go down
        break;
    }
    closedir(d);
    return sub;
}

// Goes down by name and back up by "..", keeping only the names on the
// way down.
void RemoveTree(const std::string &path)
{
    if (path.empty() || path == "/")
        return;
    if (unlink(path.c_str()) == 0 || errno == ENOENT)
        return;
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    std::vector<std::string> down;
    for (;;) {
        std::string sub = EmptyOrFindSubdir(fd);
        if (!sub.empty()) {
            int nfd = openat(fd, sub.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (nfd >= 0) {
                close(fd);
                fd = nfd;
                down.push_back(sub);
                continue;
            }
        }
        if (down.empty())
            break;
        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(fd);
        if (up < 0)
            return;
        fd = up;
        unlinkat(fd, down.back().c_str(), AT_REMOVEDIR);
        down.pop_back();
    }
    close(fd);
    rmdir(path.c_str());
}

std::string MakeTempDir(const std::string &tag, const std::string &base, mode_t mode)
{
    std::string tmpl = base + "/pwalk-" + tag + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data()))
        abort();
    chmod(buf.data(), mode);
    return buf.data();
}

TempDir::TempDir(const char *tag, const char *base)
{
    if (!base)
        base = getenv("TEST_TMPDIR");
    path_ = MakeTempDir(tag, base && *base ? base : "/tmp", 0700);
}

TempDir::~TempDir()
{
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it)
        umount2(it->c_str(), MNT_DETACH);
    RemoveTree(path_);
}

int TempDir::MountTmpfs(const std::string &rel, const std::string &options)
{
    std::string at = path_ + "/" + rel;
    mkdir(at.c_str(), 0755);
    if (mount("tmpfs", at.c_str(), "tmpfs", 0, options.c_str()) != 0)
        return errno;
    mounts_.push_back(at);
    return 0;
}

std::vector<std::string> Lines(const std::string &text)
{
    std::vector<std::string> v;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        v.push_back(line);
    return v;
}

std::string Join(const std::vector<std::string> &v, const char *sep)
{
    std::string s;
    for (size_t i = 0; i < v.size(); i++)
        s += (i ? sep : "") + v[i];
    return s;
}

}  // namespace harness
