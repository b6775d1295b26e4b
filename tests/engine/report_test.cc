// The error file at checkpoints (issue 19): report_checkpoint() makes it
// durable and describes it with every counter; a "crash" leaves its part;
// report_open_resume() continues it cut back to the checkpoint, joins
// other ranks' parts, and the counts cover every session.
#include <gtest/gtest.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/report.h"
#include "pwalk/plugin.h"
#include "tests/harness/files.h"

namespace {

using harness::ListDir;
using harness::ReadFile;

const char kHeader[] = "path,errno,error,operation,kind\n";

class ReportTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = harness::MakeTempDir("report", "/tmp", 0700);
        path_ = dir_ + "/errors.csv";
    }
    void TearDown() override { harness::RemoveTree(dir_); }

    static void Record(report *r, const std::string &path, int error_number,
                       uint32_t kind = PWALK_ERROR_FAILED, const char *op = "lstat") {
        sinks_error_hook h = report_error_hook(r);
        h.record(h.ctx, path.data(), path.size(), error_number, op, kind);
    }
    static std::string Line(const std::string &path, int error_number, const char *op = "lstat",
                            const char *kind = "error") {
        return "\"" + path + "\"," + std::to_string(error_number) + ",\"" +
               strerror(error_number) + "\",\"" + op + "\"," + kind + "\n";
    }
    std::string Checkpoint(report *r) {
        unsigned char *state = nullptr;
        size_t len = 0;
        char err[512] = "";
        EXPECT_EQ(report_checkpoint(r, &state, &len, err, sizeof err), 0) << err;
        std::string s(reinterpret_cast<char *>(state), len);
        free(state);
        return s;
    }
    // report_open_resume() with these states; 0 or -1, *msg the message.
    int Resume(report **r, const char *path, const std::vector<std::string> &states,
               std::string *msg = nullptr) {
        std::vector<const unsigned char *> ptrs;
        std::vector<size_t> lens;
        for (const std::string &s : states) {
            ptrs.push_back(reinterpret_cast<const unsigned char *>(s.data()));
            lens.push_back(s.size());
        }
        char err[512] = "";
        int rc = report_open_resume(r, path, -1, ptrs.data(), lens.data(), states.size(), err,
                                    sizeof err);
        if (msg) *msg = err;
        return rc;
    }
    std::vector<std::string> Temporaries() {
        std::vector<std::string> t;
        for (const std::string &n : ListDir(dir_))
            if (n.find(".pwalk-tmp-") != std::string::npos) t.push_back(n);
        return t;
    }
    static std::vector<std::string> Sorted(std::vector<std::string> v) {
        std::sort(v.begin(), v.end());
        return v;
    }

    std::string dir_, path_;
};

// A checkpoint, records that a crash loses, a resume in another process:
// the published file holds the records before the checkpoint and after the
// resume, once, and the counters cover both sessions.
TEST_F(ReportTest, CrashThenResumeKeepsEveryRecordOnce) {
    std::string state_file = dir_ + "/state.bin";
    fflush(nullptr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        report *r = nullptr;
        char err[512];
        if (report_open(&r, path_.c_str(), -1, err, sizeof err) != 0) _exit(10);
        Record(r, "/t/a", EACCES);
        Record(r, "/t/gone", ENOENT, PWALK_ERROR_VANISHED);
        Record(r, "/t/b", EIO, PWALK_ERROR_FAILED, "read");
        if (!harness::WriteFile(state_file, Checkpoint(r))) _exit(11);
        Record(r, "/t/lost", EACCES);
        char e2[512];
        report_prepare(r, e2, sizeof e2);  // the lost record reaches the file
        kill(getpid(), SIGKILL);
        _exit(12);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << WEXITSTATUS(status);
    std::string state;
    ASSERT_TRUE(harness::ReadFile(state_file, &state));
    unlink(state_file.c_str());
    ASSERT_EQ(Temporaries().size(), 1u);

    report *r = nullptr;
    std::string msg;
    ASSERT_EQ(Resume(&r, path_.c_str(), {state}, &msg), 0) << msg;
    EXPECT_GE(report_output_fd(r), 0);
    EXPECT_EQ(report_error_count(r), 2u);
    EXPECT_EQ(report_vanished_count(r), 1u);
    Record(r, "/t/c", EACCES, PWALK_ERROR_FAILED, "opendir");
    Record(r, "/t/swapped", 0, PWALK_ERROR_REPLACED, "open");
    EXPECT_EQ(report_error_count(r), 3u);
    EXPECT_EQ(report_vanished_count(r), 2u);
    EXPECT_EQ(report_replaced_count(r), 1u);
    ASSERT_EQ(report_errno_kinds(r), 2u);
    int e = 0;
    uint64_t n = 0;
    report_errno_kind(r, 0, &e, &n);
    EXPECT_EQ(e, EACCES);
    EXPECT_EQ(n, 2u);
    report_errno_kind(r, 1, &e, &n);
    EXPECT_EQ(e, EIO);
    EXPECT_EQ(n, 1u);
    ASSERT_EQ(report_example_count(r), 3u);
    const char *op = nullptr;
    EXPECT_STREQ(report_example_at(r, 1, &e, &op), "/t/b");
    EXPECT_EQ(e, EIO);
    EXPECT_STREQ(op, "read");
    char err[512];
    ASSERT_EQ(report_prepare(r, err, sizeof err), 0) << err;
    ASSERT_EQ(report_finish(r, 1, err, sizeof err), 0) << err;
    report_free(r);
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"errors.csv"});
    EXPECT_EQ(ReadFile(path_), std::string(kHeader) + Line("/t/a", EACCES) +
                                   Line("/t/gone", ENOENT, "lstat", "vanished") +
                                   Line("/t/b", EIO, "read") + Line("/t/c", EACCES, "opendir") +
                                   "\"/t/swapped\",0,\"replaced by another directory\","
                                   "\"open\",replaced\n");
}

// Suspended: report_keep() leaves the part exactly as checkpointed;
// several sessions; nothing under the final name until the last.
TEST_F(ReportTest, SuspendedSessionsKeepThePart) {
    report *r = nullptr;
    char err[512];
    ASSERT_EQ(report_open(&r, path_.c_str(), -1, err, sizeof err), 0) << err;
    std::string want = kHeader;
    std::string state;
    for (int session = 0; session < 3; session++) {
        SCOPED_TRACE(session);
        std::string p = "/t/s" + std::to_string(session);
        Record(r, p, ENOTDIR);
        want += Line(p, ENOTDIR);
        state = Checkpoint(r);
        std::vector<std::string> parts = Temporaries();
        ASSERT_EQ(parts.size(), 1u);
        std::string before = ReadFile(dir_ + "/" + parts[0]);
        EXPECT_EQ(before, want);
        report_keep(r);
        report_free(r);
        EXPECT_EQ(Temporaries(), parts);
        EXPECT_EQ(ReadFile(dir_ + "/" + parts[0]), before);
        EXPECT_FALSE(harness::Exists(path_));
        r = nullptr;
        ASSERT_EQ(Resume(&r, path_.c_str(), {state}), 0);
        EXPECT_EQ(report_error_count(r), (uint64_t)session + 1);
    }
    ASSERT_EQ(report_finish(r, 1, err, sizeof err), 0) << err;
    report_free(r);
    EXPECT_EQ(ReadFile(path_), want);
}

// Resumed with fewer pwalk-mpi ranks: two states, one error file; the
// second part's records follow (its header skipped), counters summed,
// the absorbed part removed at the commit (also after another suspension:
// its name travels in the state) -- or at an abandon.
TEST_F(ReportTest, TwoStatesAreJoined) {
    for (int how = 0; how < 3; how++) {  // commit, suspend + commit, abandon
        SCOPED_TRACE(how);
        std::string p1 = dir_ + "/errors.part-0001.csv";
        report *a = nullptr, *b = nullptr;
        char err[512];
        ASSERT_EQ(report_open(&a, path_.c_str(), -1, err, sizeof err), 0);
        ASSERT_EQ(report_open(&b, p1.c_str(), -1, err, sizeof err), 0);
        Record(a, "/t/a", EACCES);
        Record(b, "/t/b", EACCES);
        Record(b, "/t/v", ENOENT, PWALK_ERROR_VANISHED);
        std::string sa = Checkpoint(a), sb = Checkpoint(b);
        report_keep(a);
        report_keep(b);
        report_free(a);
        report_free(b);
        report *j = nullptr;
        std::string msg;
        ASSERT_EQ(Resume(&j, path_.c_str(), {sa, sb}, &msg), 0) << msg;
        EXPECT_EQ(report_error_count(j), 2u);
        EXPECT_EQ(report_vanished_count(j), 1u);
        ASSERT_EQ(report_errno_kinds(j), 1u);
        Record(j, "/t/c", EPERM);
        if (how == 1) {
            std::string sj = Checkpoint(j);
            report_keep(j);
            report_free(j);
            ASSERT_EQ(Temporaries().size(), 2u) << "the absorbed part stays until published";
            j = nullptr;
            ASSERT_EQ(Resume(&j, path_.c_str(), {sj}, &msg), 0) << msg;
        }
        ASSERT_EQ(report_finish(j, how != 2, err, sizeof err), 0) << err;
        report_free(j);
        if (how == 2) {
            EXPECT_TRUE(ListDir(dir_).empty());
            continue;
        }
        EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"errors.csv"});
        EXPECT_EQ(ReadFile(path_), std::string(kHeader) + Line("/t/a", EACCES) +
                                       Line("/t/b", EACCES) +
                                       Line("/t/v", ENOENT, "lstat", "vanished") +
                                       Line("/t/c", EPERM));
        unlink(path_.c_str());
    }
}

// Without an error file the state holds the counters only.
TEST_F(ReportTest, NoErrorFileCountersOnly) {
    report *r = nullptr;
    char err[512];
    ASSERT_EQ(report_open(&r, nullptr, -1, err, sizeof err), 0);
    Record(r, "/t/a", EACCES);
    EXPECT_EQ(report_output_fd(r), -1);
    std::string st = Checkpoint(r);
    report_keep(r);
    report_free(r);
    r = nullptr;
    ASSERT_EQ(Resume(&r, nullptr, {st, st}), 0);
    EXPECT_EQ(report_error_count(r), 2u);
    ASSERT_EQ(report_finish(r, 1, err, sizeof err), 0);
    report_free(r);
    EXPECT_TRUE(ListDir(dir_).empty());
}

// A missing or short part, a state that is no error file's, or one without
// the file the pipeline names: refused with one line, the part untouched
// (report_free() after a refusal removes nothing).
TEST_F(ReportTest, BadPartsAndStatesAreRefused) {
    report *r = nullptr;
    char err[512];
    ASSERT_EQ(report_open(&r, path_.c_str(), -1, err, sizeof err), 0);
    Record(r, "/t/a", EACCES);
    std::string st = Checkpoint(r);
    report_keep(r);
    report_free(r);
    std::string part = Temporaries().at(0);
    std::string bytes = ReadFile(dir_ + "/" + part);
    ASSERT_EQ(truncate((dir_ + "/" + part).c_str(), (off_t)bytes.size() - 2), 0);
    std::string msg;
    r = nullptr;
    EXPECT_EQ(Resume(&r, path_.c_str(), {st}, &msg), -1);
    report_free(r);
    EXPECT_EQ(msg, "cannot resume '" + path_ + "': part '" + part + "' is " +
                       std::to_string(bytes.size() - 2) + " bytes, the checkpoint has " +
                       std::to_string(bytes.size()));
    EXPECT_EQ(ReadFile(dir_ + "/" + part), bytes.substr(0, bytes.size() - 2));
    // a joined part missing: the first part, already reopened, is kept
    ASSERT_TRUE(harness::WriteFile(dir_ + "/" + part, bytes));
    std::string other = st;
    std::string gone = ".errors.csv.pwalk-tmp-QQQQQQ";  // same length: one byte string
    other.replace(other.find(part), part.size(), gone);
    r = nullptr;
    EXPECT_EQ(Resume(&r, path_.c_str(), {st, other}, &msg), -1);
    report_free(r);
    EXPECT_EQ(msg, "cannot resume '" + path_ + "': part '" + gone + "': No such file or directory");
    EXPECT_EQ(Temporaries(), std::vector<std::string>{part});
    for (const std::string &bad : {st.substr(0, st.size() - 1), st + "x", std::string("zz")}) {
        r = nullptr;
        EXPECT_EQ(Resume(&r, path_.c_str(), {bad}, &msg), -1);
        report_free(r);
        EXPECT_EQ(msg, "cannot resume '" + path_ +
                           "': checkpoint state 1 of 1 is not one of this error file (version 1)");
    }
    // a counters-only state where the pipeline has an error file
    report *none = nullptr;
    ASSERT_EQ(report_open(&none, nullptr, -1, err, sizeof err), 0);
    std::string counters = Checkpoint(none);
    report_free(none);
    r = nullptr;
    EXPECT_EQ(Resume(&r, path_.c_str(), {counters}, &msg), -1);
    report_free(r);
    EXPECT_EQ(msg, "cannot resume '" + path_ + "': the checkpoint has no error file");
    EXPECT_EQ(Temporaries(), std::vector<std::string>{part});
    EXPECT_EQ(ReadFile(dir_ + "/" + part), bytes);
}

}  // namespace
