// files.h -- reading and writing whole files, listing and removing trees,
// scratch directories.
#ifndef PWALK_TESTS_HARNESS_FILES_H
#define PWALK_TESTS_HARNESS_FILES_H

#include <sys/types.h>

#include <string>
#include <vector>

namespace harness {

// The whole file; "" when it cannot be read.
std::string ReadFile(const std::string &path);
// The same, telling a file that cannot be read (false, errno set) from an
// empty one.
bool ReadFile(const std::string &path, std::string *data);
// Creates or truncates (mode 0666 & ~umask); false on any failure.
bool WriteFile(const std::string &path, const std::string &data);
bool Exists(const std::string &path);  // lstat: a dangling symlink exists
// Names in dir (no . and ..), sorted.
std::vector<std::string> ListDir(const std::string &dir);
// Files in dir whose names are the outputs' temporary names.
std::vector<std::string> TempOutputs(const std::string &dir);

// Remove the file or tree at path (directories made writable on the way)
// without building long paths and with two fds at most: tests make trees
// whose paths no syscall accepts and which are deeper than the open-file
// limit.  Nothing happens for "" or "/".
void RemoveTree(const std::string &path);

// A new directory base/pwalk-TAG-XXXXXX with the given mode; aborts the
// test binary when none can be made.  The caller removes it.
std::string MakeTempDir(const std::string &tag, const std::string &base = "/tmp",
                        mode_t mode = 0755);

// A scratch directory, removed (with whatever was mounted on it unmounted)
// when the test ends.
class TempDir {
  public:
    // base: where to make it (default $TEST_TMPDIR, else /tmp); tests that
    // run the engine as another user pass "/tmp", which that user can reach.
    explicit TempDir(const char *tag = "fault", const char *base = nullptr);
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }
    std::string operator/(const std::string &rel) const { return path_ + "/" + rel; }

    // Mount a tmpfs at rel (created); 0 or errno.  Unmounted at the end.
    int MountTmpfs(const std::string &rel, const std::string &options);

  private:
    std::string path_;
    std::vector<std::string> mounts_;
};

// text split at '\n' (no newline kept; a last line without one counts).
std::vector<std::string> Lines(const std::string &text);
std::string Join(const std::vector<std::string> &v, const char *sep = ", ");

}  // namespace harness

#endif
