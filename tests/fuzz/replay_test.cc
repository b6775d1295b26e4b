// Replays a fuzz target's kept inputs -- tests/fuzz/corpus/<target>/ (the
// seeds) and tests/fuzz/regressions/<target>/ (every crash a fuzz run found)
// -- through the same LLVMFuzzerTestOneInput the fuzzer runs, built here
// with gcc and no libFuzzer, so the normal suite (and its ASan/TSan configs)
// keeps every found bug fixed.
//
// Each input runs in a forked child: a broken property abort()s, and the
// parent then names the file instead of the whole test dying on the first
// one.  The child leaves with exit(), not _exit(), so LeakSanitizer checks
// each input under --config=asan.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_STR2(x) #x
#define FUZZ_STR(x) FUZZ_STR2(x)

namespace {

const char *const kTarget = FUZZ_STR(FUZZ_TARGET);

std::string DataDir(const std::string &kind)
{
    const char *srcdir = getenv("TEST_SRCDIR");
    std::string base = srcdir ? std::string(srcdir) + "/pwalk/" : std::string();
    return base + "tests/fuzz/" + kind + "/" + kTarget;
}

// Regular files of dir, sorted, dot-files (.gitkeep) left out.
std::vector<std::string> Files(const std::string &dir)
{
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return out;
    while (struct dirent *e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        std::string path = dir + "/" + e->d_name;
        struct stat st;
        if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
            out.push_back(path);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// 0 when the input passed, else the child's wait status.
int RunOne(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        // an exact-size copy, as libFuzzer passes it: reading past the end
        // is an ASan report
        uint8_t *buf = static_cast<uint8_t *>(malloc(bytes.size() ? bytes.size() : 1));
        std::copy(bytes.begin(), bytes.end(), buf);
        LLVMFuzzerTestOneInput(buf, bytes.size());
        free(buf);
        exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

TEST(FuzzReplay, CorpusAndRegressions)
{
    std::vector<std::string> corpus = Files(DataDir("corpus"));
    std::vector<std::string> regress = Files(DataDir("regressions"));
    // a wrong data path must not pass as "nothing to replay"
    ASSERT_FALSE(corpus.empty()) << "no seed inputs in " << DataDir("corpus");
    std::vector<std::string> all = corpus;
    all.insert(all.end(), regress.begin(), regress.end());
    size_t failed = 0;
    for (const std::string &f : all) {
        int status = RunOne(f);
        EXPECT_EQ(status, 0) << kTarget << " fails on " << f
                             << (WIFSIGNALED(status) ? " (signal " : " (exit ")
                             << (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status))
                             << "); reproduce: scripts/fuzz.sh builds /var/tmp/pwalk-fuzz/"
                             << kTarget << "_fuzz, run it with the file as argument";
        failed += status != 0;
    }
    printf("%s: %zu seeds, %zu regressions replayed, %zu failed\n", kTarget, corpus.size(),
           regress.size(), failed);
}

}  // namespace
