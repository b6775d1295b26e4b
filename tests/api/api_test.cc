// The public embedding API (include/pwalk/pwalk.h), used as an embedder
// does: this file includes pwalk/pwalk.h and nothing else of the library.
//
// Scans run concurrently in one process and never meet: each is exact
// (every row checked against lstat by the harness's independent model), a
// failing sink or a stop request ends only its own scan, results come as
// fields, and the library writes nothing to fd 1 or 2.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "pwalk/pwalk.h"
#include "tests/harness/harness.h"

namespace {

using harness::Expect;

std::string Cwd() {
    char buf[4096];
    return getcwd(buf, sizeof buf) ? buf : ".";
}

// dirs directories of files files each, plus an empty "victim" directory
// (removed mid-scan by apisink's `remove` in some tests).
void MakeTree(const std::string &root, int dirs, int files) {
    ASSERT_EQ(mkdir(root.c_str(), 0755), 0) << root;
    ASSERT_EQ(mkdir((root + "/victim").c_str(), 0755), 0);
    for (int d = 0; d < dirs; d++) {
        std::string dir = root + "/d" + std::to_string(d);
        ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
        for (int f = 0; f < files; f++)
            ASSERT_TRUE(harness::WriteFile(dir + "/f" + std::to_string(f) + ".txt",
                                           std::string((size_t)f, 'x')));
    }
}

// A sink entry of the pipeline YAML.
std::string Sink(const std::string &name, const std::string &plugin,
                 const std::map<std::string, std::string> &options) {
    std::string y = "  - name: " + name + "\n    plugin: " + plugin + "\n";
    if (!options.empty()) {
        y += "    options:\n";
        for (auto &kv : options) y += "      " + kv.first + ": \"" + kv.second + "\"\n";
    }
    return y;
}

std::string Pipeline(const std::string &root, int threads, const std::string &sinks) {
    return "version: 1\nscan:\n  roots: [\"" + root + "\"]\n  threads: " +
           std::to_string(threads) + "\nsinks:\n" + sinks;
}

std::string Report(const std::string &out) {
    return Sink("report", "csv", {{"path", out}, {"header", "true"}, {"escape", "lossless"}});
}

// A scan from YAML, finding csv.so and the test's apisink.so in the runfiles.
pwalk_scan *NewScan(const std::string &yaml) {
    pwalk_scan *s = nullptr;
    char err[2048] = "";
    EXPECT_EQ(pwalk_scan_from_string(&s, yaml.data(), yaml.size(), "test.yaml", err,
                                     sizeof err),
              0)
        << err;
    if (!s) return nullptr;
    EXPECT_EQ(pwalk_scan_add_plugin_dir(s, (Cwd() + "/plugins").c_str()), 0);
    EXPECT_EQ(pwalk_scan_add_plugin_dir(s, (Cwd() + "/tests/api/fixtures").c_str()), 0);
    return s;
}

// The report at out holds exactly the tree under root: one row per entry,
// each matching lstat (harness::CheckRow), nothing else.
void ExpectExactReport(const std::string &out, const std::string &root, size_t *rows_out) {
    std::map<std::string, Expect> model;
    harness::Model(root, std::vector<std::string>{}, &model);
    harness::Csv csv = harness::ReadCsv(out, harness::kColumns);
    ASSERT_TRUE(csv.ok) << out << ": " << csv.problem;
    std::map<std::string, int> seen;
    for (auto &row : csv.rows) {
        std::string path = harness::Unescape(row[harness::kFilename]);
        seen[path]++;
        auto it = model.find(path);
        if (it == model.end()) {
            ADD_FAILURE() << out << ": row for " << path << ", not in the tree";
            continue;
        }
        EXPECT_EQ(harness::CheckRow(row, it->second, path), "") << out;
    }
    for (auto &kv : model) EXPECT_EQ(seen[kv.first], 1) << out << ": " << kv.first;
    EXPECT_EQ(csv.rows.size(), model.size()) << out;
    *rows_out = csv.rows.size();
}

class ApiTest : public ::testing::Test {
  protected:
    harness::TempDir dir_{"api"};
};

TEST(ApiVersion, VersionAndCounterNames) {
    EXPECT_STREQ(pwalk_version(), PWALK_VERSION_STRING);
    EXPECT_EQ(pwalk_version_number(), (unsigned)PWALK_VERSION_NUMBER);
    EXPECT_STREQ(pwalk_counter_name(PWALK_COUNT_ENTRIES), "entries");
    EXPECT_STREQ(pwalk_counter_name(PWALK_COUNT_FILTERED_OWN_OUTPUT), "own-output");
    EXPECT_EQ(pwalk_counter_name(PWALK_COUNT_MAX), nullptr);
}

// Two scans on two threads of one process, different trees and outputs:
// both complete and both reports are exact.
TEST_F(ApiTest, TwoConcurrentScansAreBothExact) {
    std::string a = dir_ / "a", b = dir_ / "b";
    MakeTree(a, 30, 40);
    MakeTree(b, 45, 25);
    // slowed down (3 ms a batch) so that the two walks overlap
    std::string slow = Sink("slow", "apisink", {{"delay_us", "3000"}});
    pwalk_scan *sa = NewScan(Pipeline(a, 2, Report(dir_ / "a.csv") + slow));
    pwalk_scan *sb = NewScan(Pipeline(b, 2, Report(dir_ / "b.csv") + slow));
    ASSERT_TRUE(sa && sb);
    int ra = -1, rb = -1;
    std::thread ta([&] { ra = pwalk_scan_run(sa); });
    std::thread tb([&] { rb = pwalk_scan_run(sb); });
    ta.join();
    tb.join();
    EXPECT_EQ(ra, PWALK_OK) << pwalk_scan_message(sa);
    EXPECT_EQ(rb, PWALK_OK) << pwalk_scan_message(sb);
    size_t na = 0, nb = 0;
    ExpectExactReport(dir_ / "a.csv", a, &na);
    ExpectExactReport(dir_ / "b.csv", b, &nb);
    EXPECT_EQ(na, 1u + 1u + 30u * 41u);
    EXPECT_EQ(nb, 1u + 1u + 45u * 26u);
    for (auto [s, n] : {std::pair{sa, na}, std::pair{sb, nb}}) {
        EXPECT_EQ(pwalk_scan_status(s), PWALK_OK);
        EXPECT_EQ(pwalk_scan_failure(s), PWALK_FAIL_NONE);
        EXPECT_STREQ(pwalk_scan_message(s), "");
        EXPECT_EQ(pwalk_scan_counter(s, PWALK_COUNT_ROWS), n);
        EXPECT_EQ(pwalk_scan_counter(s, PWALK_COUNT_ENTRIES), n);
        EXPECT_EQ(pwalk_scan_counter(s, PWALK_COUNT_ERRORS), 0u);
        ASSERT_EQ(pwalk_scan_sink_count(s), 2u);
        EXPECT_STREQ(pwalk_scan_sink_name(s, 0), "report");
        EXPECT_STREQ(pwalk_scan_sink_plugin(s, 0), "csv");
        EXPECT_EQ(pwalk_scan_sink_rows(s, 0), n);
        EXPECT_EQ(pwalk_scan_sink_rows(s, 1), n);
        std::string summary = pwalk_scan_summary(s);
        EXPECT_EQ(summary.rfind("pwalk: " + std::to_string(n) + " entries in ", 0), 0u)
            << summary;
        std::string rows = std::to_string(n);
        EXPECT_NE(summary.find("): " + rows + " rows, 0 errors, 0 filtered; sink 'report': " +
                               rows + " rows; sink 'slow': " + rows + " rows\n"),
                  std::string::npos)
            << summary;
    }
    // a handle runs once
    EXPECT_EQ(pwalk_scan_run(sa), PWALK_USAGE);
    EXPECT_EQ(pwalk_scan_status(sa), PWALK_OK);
    pwalk_scan_free(sa);
    pwalk_scan_free(sb);
}

// A sink whose error() fails stops its own scan (status 3, its report not
// published) while a scan running beside it completes, exact.  (While the
// stop flag was a process global, that failure stopped every scan.)
TEST_F(ApiTest, FailingSinkStopsOnlyItsOwnScan) {
    std::string a = dir_ / "a", b = dir_ / "b";
    MakeTree(a, 20, 5);
    MakeTree(b, 60, 10);
    // a: one worker reads the root, apisink removes victim at the first
    // batch, the walk then finds it gone: an error record, error() fails
    pwalk_scan *sa = NewScan(
        Pipeline(a, 1, Report(dir_ / "a.csv") +
                           Sink("bad", "apisink", {{"fail_in", "error"}, {"remove", a + "/victim"}})));
    // b: slowed down so that it is still walking when a fails
    pwalk_scan *sb = NewScan(
        Pipeline(b, 2, Report(dir_ / "b.csv") + Sink("slow", "apisink", {{"delay_us", "20000"}})));
    ASSERT_TRUE(sa && sb);
    int ra = -1, rb = -1;
    std::thread tb([&] { rb = pwalk_scan_run(sb); });
    std::thread ta([&] { ra = pwalk_scan_run(sa); });
    ta.join();
    tb.join();

    EXPECT_EQ(ra, PWALK_FAILED) << pwalk_scan_message(sa);
    EXPECT_EQ(pwalk_scan_failure(sa), PWALK_FAIL_SINK);
    ASSERT_NE(pwalk_scan_failed_sink(sa), nullptr);
    EXPECT_STREQ(pwalk_scan_failed_sink(sa), "bad");
    std::string victim = a + "/victim";
    EXPECT_EQ(std::string(pwalk_scan_failed_message(sa)),
              "apisink: failing on the error record of " + victim);
    EXPECT_EQ(std::string(pwalk_scan_message(sa)),
              "sink 'bad': apisink: failing on the error record of " + victim +
                  "; no output published");
    EXPECT_FALSE(harness::Exists(dir_ / "a.csv"));

    EXPECT_EQ(rb, PWALK_OK) << pwalk_scan_message(sb);
    EXPECT_EQ(pwalk_scan_failed_sink(sb), nullptr);
    size_t nb = 0;
    ExpectExactReport(dir_ / "b.csv", b, &nb);
    EXPECT_EQ(pwalk_scan_sink_rows(sb, 0), nb);
    EXPECT_EQ(pwalk_scan_sink_rows(sb, 1), nb);
    pwalk_scan_free(sa);
    pwalk_scan_free(sb);
}

// pwalk_scan_stop() from another thread ends that scan with 128+N and no
// output; the scan beside it completes, exact.
TEST_F(ApiTest, StopFromAnotherThreadStopsOnlyThatScan) {
    std::string a = dir_ / "a", b = dir_ / "b";
    MakeTree(a, 100, 2);
    MakeTree(b, 40, 10);
    // a would take 100 x 20 ms with one worker; it is stopped once its
    // sinks exist (apisink logs from create())
    pwalk_scan *sa = NewScan(Pipeline(
        a, 1, Report(dir_ / "a.csv") + Sink("slow", "apisink", {{"delay_us", "20000"}, {"log", "created"}})));
    pwalk_scan *sb = NewScan(
        Pipeline(b, 2, Report(dir_ / "b.csv") + Sink("slow", "apisink", {{"delay_us", "5000"}})));
    ASSERT_TRUE(sa && sb);
    struct Gate {
        std::mutex m;
        std::condition_variable cv;
        bool created = false;
    } gate;
    pwalk_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.ctx = &gate;
    cb.on_log = [](void *ctx, int, const char *) {
        auto *g = static_cast<Gate *>(ctx);
        std::lock_guard<std::mutex> l(g->m);
        g->created = true;
        g->cv.notify_all();
    };
    ASSERT_EQ(pwalk_scan_set_callbacks(sa, &cb), 0);
    int ra = -1, rb = -1;
    std::thread tb([&] { rb = pwalk_scan_run(sb); });
    std::thread ta([&] { ra = pwalk_scan_run(sa); });
    std::thread stopper([&] {
        std::unique_lock<std::mutex> l(gate.m);
        gate.cv.wait(l, [&] { return gate.created; });
        pwalk_scan_stop(sa, SIGTERM);
    });
    stopper.join();
    ta.join();
    tb.join();

    EXPECT_EQ(ra, 128 + SIGTERM) << pwalk_scan_message(sa);
    EXPECT_EQ(pwalk_scan_failure(sa), PWALK_FAIL_SIGNAL);
    EXPECT_EQ(std::string(pwalk_scan_message(sa)),
              "interrupted by signal 15 (Terminated); no output published");
    EXPECT_LT(pwalk_scan_counter(sa, PWALK_COUNT_ROWS), 100u * 3u + 2u);
    EXPECT_FALSE(harness::Exists(dir_ / "a.csv"));

    EXPECT_EQ(rb, PWALK_OK) << pwalk_scan_message(sb);
    size_t nb = 0;
    ExpectExactReport(dir_ / "b.csv", b, &nb);
    pwalk_scan_free(sa);
    pwalk_scan_free(sb);
}

// A stop requested before the run is kept: the run stops at once.
TEST_F(ApiTest, StopBeforeRunIsKept) {
    std::string a = dir_ / "a";
    MakeTree(a, 3, 3);
    pwalk_scan *s = NewScan(Pipeline(a, 1, Report(dir_ / "a.csv")));
    ASSERT_TRUE(s);
    pwalk_scan_stop(s, 0);  // 0: SIGINT's number
    EXPECT_EQ(pwalk_scan_run(s), 128 + SIGINT);
    EXPECT_EQ(std::string(pwalk_scan_message(s)),
              "interrupted by signal 2 (Interrupt); no output published");
    EXPECT_FALSE(harness::Exists(dir_ / "a.csv"));
    pwalk_scan_free(s);
}

// What failed comes as fields: the failure kind, the sink's name and its
// own message, the root and its errno.
TEST_F(ApiTest, FailureFields) {
    std::string a = dir_ / "a";
    MakeTree(a, 2, 2);
    struct Case {
        std::string sinks;
        int status;
        pwalk_failure failure;
        const char *sink;
        std::string own, message;
    } cases[] = {
        {Report(dir_ / "c.csv") + Sink("bad", "apisink", {{"fail_in", "create"}}), PWALK_USAGE,
         PWALK_FAIL_SINK, "bad", "apisink: failing in create as asked",
         "sink 'bad': apisink: failing in create as asked"},
        {Report(dir_ / "c.csv") + Sink("bad", "apisink", {{"fail_in", "consume"}}), PWALK_FAILED,
         PWALK_FAIL_SINK, "bad", "apisink: failing in consume as asked",
         "sink 'bad': apisink: failing in consume as asked; no output published"},
        {Report(dir_ / "c.csv") + Sink("missing", "nosuchplugin", {}), PWALK_USAGE,
         PWALK_FAIL_PLUGIN, "missing", "", ""},
        {Report(dir_ / "c.csv") + Sink("bad", "apisink", {{"nosuchoption", "1"}}), PWALK_USAGE,
         PWALK_FAIL_PLUGIN, "bad", "", ""},
    };
    for (auto &c : cases) {
        SCOPED_TRACE(c.sinks);
        pwalk_scan *s = NewScan(Pipeline(a, 1, c.sinks));
        ASSERT_TRUE(s);
        EXPECT_EQ(pwalk_scan_run(s), c.status) << pwalk_scan_message(s);
        EXPECT_EQ(pwalk_scan_failure(s), c.failure);
        ASSERT_NE(pwalk_scan_failed_sink(s), nullptr);
        EXPECT_STREQ(pwalk_scan_failed_sink(s), c.sink);
        std::string own = pwalk_scan_failed_message(s), msg = pwalk_scan_message(s);
        if (!c.own.empty()) {
            EXPECT_EQ(own, c.own);
            EXPECT_EQ(msg, c.message);
        } else {
            // the whole line names the sink; the field is the rest of it
            EXPECT_NE(msg.find("sink '" + std::string(c.sink) + "': " + own), std::string::npos)
                << msg << " / " << own;
            EXPECT_FALSE(own.empty());
        }
        EXPECT_FALSE(harness::Exists(dir_ / "c.csv"));
        pwalk_scan_free(s);
    }

    // a root that does not exist: its path and errno
    pwalk_scan *s = NewScan(Pipeline(dir_ / "nonexistent", 1, Report(dir_ / "c.csv")));
    ASSERT_TRUE(s);
    EXPECT_EQ(pwalk_scan_check(s), PWALK_USAGE);
    EXPECT_EQ(pwalk_scan_failure(s), PWALK_FAIL_ROOT);
    EXPECT_EQ(pwalk_scan_run(s), PWALK_USAGE);
    EXPECT_EQ(pwalk_scan_failure(s), PWALK_FAIL_ROOT);
    ASSERT_NE(pwalk_scan_failed_path(s), nullptr);
    EXPECT_EQ(std::string(pwalk_scan_failed_path(s)), dir_ / "nonexistent");
    EXPECT_EQ(pwalk_scan_failed_errno(s), ENOENT);
    EXPECT_EQ(pwalk_scan_failed_sink(s), nullptr);
    EXPECT_EQ(std::string(pwalk_scan_message(s)),
              dir_ / "nonexistent" + ": No such file or directory");
    pwalk_scan_free(s);

    // --set semantics: a sink that is not there, named in the message
    s = NewScan(Pipeline(a, 1, Report(dir_ / "c.csv")));
    ASSERT_TRUE(s);
    char err[512] = "";
    EXPECT_EQ(pwalk_scan_set(s, "nosink.path=x", err, sizeof err), PWALK_USAGE);
    EXPECT_NE(std::string(err).find("no sink named 'nosink' (sinks: report)"), std::string::npos)
        << err;
    pwalk_scan_free(s);
}

// Reads what is in a non-blocking pipe.
std::string Drain(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, (size_t)n);
    return out;
}

// The library never writes to stdout or stderr: a scan with an error
// record, a sink that logs, a failing scan and --describe leave fd 1 and 2
// untouched, and what they had to say reaches the callbacks.
TEST_F(ApiTest, NothingOnStdoutOrStderrCallbacksInstead) {
    std::string a = dir_ / "a";
    MakeTree(a, 10, 10);
    struct Seen {
        std::mutex m;
        std::vector<std::string> logs, errors;
        std::vector<unsigned> kinds;
    } seen;
    pwalk_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.ctx = &seen;
    cb.on_error = [](void *ctx, const char *path, size_t len, int, const char *op, unsigned kind) {
        auto *s = static_cast<Seen *>(ctx);
        std::lock_guard<std::mutex> l(s->m);
        s->errors.push_back(std::string(path, len) + " " + op);
        s->kinds.push_back(kind);
    };
    cb.on_log = [](void *ctx, int, const char *line) {
        auto *s = static_cast<Seen *>(ctx);
        std::lock_guard<std::mutex> l(s->m);
        s->logs.push_back(line);
    };

    int out_pipe[2], err_pipe[2];
    ASSERT_EQ(pipe2(out_pipe, O_NONBLOCK), 0);
    ASSERT_EQ(pipe2(err_pipe, O_NONBLOCK), 0);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    ASSERT_GE(dup2(out_pipe[1], 1), 0);
    ASSERT_GE(dup2(err_pipe[1], 2), 0);

    pwalk_scan *s = NewScan(Pipeline(
        a, 1, Report(dir_ / "a.csv") +
                  Sink("talk", "apisink", {{"log", "hello from create"}, {"remove", a + "/victim"}})));
    pwalk_scan_set_callbacks(s, &cb);
    int status = pwalk_scan_run(s);
    pwalk_scan *bad = NewScan(
        Pipeline(a, 1, Report(dir_ / "b.csv") + Sink("bad", "apisink", {{"fail_in", "consume"}})));
    int bad_status = pwalk_scan_run(bad);
    char err[256];
    char *text = pwalk_scan_describe(s, "apisink", err, sizeof err);

    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(out_pipe[1]);
    close(err_pipe[1]);
    EXPECT_EQ(Drain(out_pipe[0]), "");
    EXPECT_EQ(Drain(err_pipe[0]), "");
    close(out_pipe[0]);
    close(err_pipe[0]);

    EXPECT_EQ(status, PWALK_OK) << pwalk_scan_message(s);  // vanished: not an error
    EXPECT_EQ(bad_status, PWALK_FAILED);
    ASSERT_NE(text, nullptr) << err;
    EXPECT_NE(std::string(text).find("plugin:      apisink"), std::string::npos) << text;
    pwalk_free(text);

    EXPECT_EQ(seen.logs, std::vector<std::string>{"sink 'talk': hello from create"});
    ASSERT_EQ(seen.errors.size(), 1u);
    EXPECT_EQ(seen.errors[0].rfind(a + "/victim ", 0), 0u) << seen.errors[0];
    EXPECT_EQ(seen.kinds[0], PWALK_RECORD_VANISHED);
    EXPECT_EQ(pwalk_scan_counter(s, PWALK_COUNT_VANISHED), 1u);
    EXPECT_EQ(pwalk_scan_counter(s, PWALK_COUNT_ERRORS), 0u);
    EXPECT_NE(std::string(pwalk_scan_summary(s)).find(", 1 vanished"), std::string::npos)
        << pwalk_scan_summary(s);
    pwalk_scan_free(s);
    pwalk_scan_free(bad);
}

// on_progress: about once a second, on the thread running the scan, with
// counts that never exceed the final ones.
TEST_F(ApiTest, ProgressCallbackOnTheRunningThread) {
    std::string a = dir_ / "a";
    MakeTree(a, 75, 1);
    // one worker, 20 ms per batch, one batch per directory: >= 1.5 s
    pwalk_scan *s =
        NewScan(Pipeline(a, 1, Report(dir_ / "a.csv") + Sink("slow", "apisink", {{"delay_us", "20000"}})));
    ASSERT_TRUE(s);
    struct Seen {
        std::thread::id runner;
        int calls = 0;
        bool other_thread = false;
        uint64_t last_entries = 0;
    } seen;
    seen.runner = std::this_thread::get_id();
    pwalk_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.ctx = &seen;
    cb.on_progress = [](void *ctx, const pwalk_progress *p) {
        auto *s = static_cast<Seen *>(ctx);
        s->calls++;
        s->other_thread |= std::this_thread::get_id() != s->runner;
        s->last_entries = p->entries;
    };
    ASSERT_EQ(pwalk_scan_set_callbacks(s, &cb), 0);
    EXPECT_EQ(pwalk_scan_run(s), PWALK_OK) << pwalk_scan_message(s);
    EXPECT_GE(seen.calls, 1);
    EXPECT_FALSE(seen.other_thread);
    EXPECT_LE(seen.last_entries, pwalk_scan_counter(s, PWALK_COUNT_ENTRIES));
    EXPECT_GE(pwalk_scan_seconds(s), 1.0);
    pwalk_scan_free(s);
}

// Built without YAML: defaults, a sink added, options and roots set, a
// file of the caller's own left out of the walk.
TEST_F(ApiTest, BuiltByHandWithAnOwnFile) {
    std::string a = dir_ / "a";
    MakeTree(a, 2, 3);
    int own = open((a + "/d0/mine.log").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(own, 0);
    pwalk_scan *s = nullptr;
    ASSERT_EQ(pwalk_scan_new(&s), 0);
    char err[512] = "";
    ASSERT_EQ(pwalk_scan_add_sink(s, "out", "csv", err, sizeof err), 0) << err;
    EXPECT_EQ(pwalk_scan_add_sink(s, "out", "csv", err, sizeof err), PWALK_USAGE);
    EXPECT_NE(std::string(err).find("two sinks named 'out'"), std::string::npos) << err;
    ASSERT_EQ(pwalk_scan_add_plugin_dir(s, (Cwd() + "/plugins").c_str()), 0);
    std::string out = dir_ / "hand.csv";
    ASSERT_EQ(pwalk_scan_set(s, ("out.path=" + out).c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(pwalk_scan_set_value(s, "out", 3, "header", 6, "true", 4, err, sizeof err), 0)
        << err;
    ASSERT_EQ(pwalk_scan_set(s, "scan.threads=3", err, sizeof err), 0) << err;
    const char *roots[] = {a.c_str()};
    ASSERT_EQ(pwalk_scan_set_roots(s, roots, 1), 0);
    ASSERT_EQ(pwalk_scan_own_fd(s, own, err, sizeof err), 0) << err;
    EXPECT_STREQ(pwalk_scan_sink_option(s, 0, "path"), out.c_str());
    EXPECT_STREQ(pwalk_scan_root(s, 0), a.c_str());
    EXPECT_EQ(pwalk_scan_run(s), PWALK_OK) << pwalk_scan_message(s);
    EXPECT_EQ(pwalk_scan_counter(s, PWALK_COUNT_FILTERED_OWN_OUTPUT), 1u);
    harness::Csv csv = harness::ReadCsv(out, harness::kColumns);
    ASSERT_TRUE(csv.ok) << csv.problem;
    EXPECT_EQ(csv.rows.size(), 1u + 1u + 2u * 4u);  // mine.log is not a row
    for (auto &row : csv.rows) EXPECT_EQ(row[harness::kFilename].find("mine.log"), std::string::npos);
    close(own);
    pwalk_scan_free(s);
}

}  // namespace

namespace {

// A scan with a journal that cuts every millisecond (scan.checkpoint_every)
// while two workers write the report.
pwalk_scan *CheckpointedScan(const std::string &yaml, const std::string &journal) {
    pwalk_scan *s = NewScan(yaml);
    char err[512] = "";
    if (s) {
        EXPECT_EQ(pwalk_scan_set(s, ("scan.checkpoint=" + journal).c_str(), err, sizeof err), 0)
            << err;
        EXPECT_EQ(pwalk_scan_set(s, "scan.checkpoint_every=1ms", err, sizeof err), 0) << err;
    }
    return s;
}

// Checkpoints through the API (issue 19): a suspension asked before the
// run, then resumes suspended from another thread at growing moments until
// the scan completes, give the exact report and the whole scan's counts;
// under the sanitizers this is the cut's threading (workers parking,
// sinks' checkpoint(), the journal) with a real sink.
TEST_F(ApiTest, SuspendedAndResumedScanGivesTheExactReport) {
    std::string a = dir_ / "a", journal = dir_ / "scan.ckpt", out = dir_ / "a.csv";
    MakeTree(a, 300, 20);
    std::string yaml = Pipeline(a, 2, Report(out));
    pwalk_scan *s = CheckpointedScan(yaml, journal);
    ASSERT_TRUE(s);
    pwalk_scan_suspend(s); /* kept until the run: it suspends at its first cut */
    EXPECT_EQ(pwalk_scan_run(s), PWALK_INCOMPLETE) << pwalk_scan_message(s);
    EXPECT_EQ(pwalk_scan_failure(s), PWALK_FAIL_SUSPENDED);
    EXPECT_NE(std::string(pwalk_scan_message(s)).find("continue with --resume " + journal),
              std::string::npos)
        << pwalk_scan_message(s);
    EXPECT_FALSE(harness::Exists(out));
    EXPECT_TRUE(harness::Exists(journal));
    pwalk_scan_free(s);

    int rc = -1, sessions = 1;
    while (rc != PWALK_OK && sessions < 60) {
        s = CheckpointedScan(yaml, journal);
        ASSERT_TRUE(s);
        const char *j[] = {journal.c_str()};
        char err[512] = "";
        ASSERT_EQ(pwalk_scan_resume(s, j, 1, err, sizeof err), 0) << err;
        std::thread suspender([s, sessions] {
            std::this_thread::sleep_for(std::chrono::milliseconds(3 * sessions));
            pwalk_scan_suspend(s);
        });
        rc = pwalk_scan_run(s);
        suspender.join();
        sessions++;
        ASSERT_TRUE(rc == PWALK_OK || rc == PWALK_INCOMPLETE) << pwalk_scan_message(s);
        if (rc == PWALK_OK) {
            uint64_t entries = pwalk_scan_counter(s, PWALK_COUNT_ENTRIES);
            EXPECT_EQ(entries, pwalk_scan_counter(s, PWALK_COUNT_ROWS) +
                                   pwalk_scan_counter(s, PWALK_COUNT_STAT_ERRORS) +
                                   pwalk_scan_counter(s, PWALK_COUNT_FILTERED));
            EXPECT_EQ(entries, 1u + 1u + 300u * 21u); /* root, victim, dirs and files */
            EXPECT_EQ(pwalk_scan_sink_rows(s, 0), entries);
        }
        pwalk_scan_free(s);
    }
    ASSERT_EQ(rc, PWALK_OK) << "not complete after " << sessions << " sessions";
    RecordProperty("sessions", sessions); /* how many depends on the machine */
    size_t rows = 0;
    ExpectExactReport(out, a, &rows);
    EXPECT_FALSE(harness::Exists(journal));
    EXPECT_TRUE(harness::TempOutputs(dir_.path()).empty());
}

}  // namespace

namespace {

// pwalk_parse_duration(): the one parser of scan.checkpoint_every and
// scan.time_limit, for drivers' own options (pwalk-mpi's).
TEST(ApiDuration, UnitsAndSlurmFormsAboveZero) {
    auto ms = [](const char *text) {
        long long v = -7;
        return pwalk_parse_duration(text, &v) == 0 ? v : -1;
    };
    EXPECT_EQ(ms("90"), 90000);
    EXPECT_EQ(ms("5m"), 300000);
    EXPECT_EQ(ms("3h50m"), (3 * 3600 + 50 * 60) * 1000LL);
    EXPECT_EQ(ms("1d12h"), 36 * 3600 * 1000LL);
    EXPECT_EQ(ms("500ms"), 500);
    EXPECT_EQ(ms("05:30"), 330000);
    EXPECT_EQ(ms("01:02:03"), 3723000);
    EXPECT_EQ(ms("2-01:00:00"), (2 * 86400 + 3600) * 1000LL);
    for (const char *bad : {"", "0", "0s", "-5m", "5x", "m", "5m3h", "1.5h", "5 m", ":", "5:"}) {
        long long v = 42;
        EXPECT_EQ(pwalk_parse_duration(bad, &v), -1) << bad;
        EXPECT_EQ(v, 42) << bad;
    }
    long long v = 0;
    EXPECT_EQ(pwalk_parse_duration(nullptr, &v), -1);
}

}  // namespace
