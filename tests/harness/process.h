// process.h -- running pwalk-engine (or any program) as a child process:
// its exit status (128+N for signal N), stdout and stderr, with a timeout,
// another working directory, environment, user or open-file limit.
#ifndef PWALK_TESTS_HARNESS_PROCESS_H
#define PWALK_TESTS_HARNESS_PROCESS_H

#include <sys/resource.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace harness {

// Seconds on the monotonic clock.
double Now();

// A file of the test's runfiles ("pwalk-engine", "plugins/csv/csv.so").
std::string Runfile(const std::string &rel);
std::string EnginePath();  // bazel-bin/pwalk-engine (runfiles)
std::string PluginDir();   // bazel-bin/plugins (runfiles)
// tests/faults/fixtures: the fault-injection sink failsink.so and its
// broken variants, for a pipeline's plugin_path.
std::string FixtureDir();

struct Result {
    int status = -1;        // exit status, or 128+N when killed by signal N
    bool signaled = false;  // died of a signal (a crash unless we sent it)
    int signal = 0;
    bool timed_out = false;
    std::string out, err;
    double seconds = 0;
    // status, stderr (a long one's head and tail) and stdout's start, for
    // a failed assertion's message
    std::string Describe() const;
};

struct Options {
    std::string cwd;                 // default: the test's cwd
    std::vector<std::string> env;    // extra NAME=VALUE
    std::vector<std::string> unset;  // variables to remove
    double timeout = 300;            // seconds, then SIGKILL; <= 0: none
    uid_t uid = 0;                   // run as this user when non-zero
    gid_t gid = 0;                   // (supplementary groups are dropped)
    std::string out_file, err_file;  // default: files in a private dir
    rlim_t nofile = 0;               // open-file limit (0: inherited)
    std::string engine;              // RunEngine/Start: default EnginePath()
    // runs in the child as the test's user just before the limits, the
    // user change and exec (e.g. to enter a mount namespace)
    std::function<void()> in_child;
};

// A started child; Wait() collects it.  stdin is /dev/null (the engine
// must not need it); the signal mask and SIGINT/SIGTERM are reset.
class Child {
  public:
    Child() = default;
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;
    ~Child();  // kills a child still running

    // The engine (o.engine or EnginePath()) with args.
    bool Start(const std::vector<std::string> &args, const Options &o = Options());
    // Any program: argv[0] is its path.
    bool StartProgram(const std::vector<std::string> &argv, const Options &o = Options());

    pid_t pid() const { return pid_; }
    double Elapsed() const;
    // Non-blocking: has it exited?  Fills *r when it has.
    bool Exited(Result *r);
    // Waits (SIGKILL after the timeout: timed_out is then set).
    Result Wait();

  private:
    void Collect(int st, Result *r);

    pid_t pid_ = -1;
    std::string io_dir_, out_, err_;
    double start_ = 0, timeout_ = 300;
};

// Start and wait.  On a failed start, status -1 and err says so.  (Not
// "Run": inside a TEST body that name is testing::Test::Run.)
Result RunChild(const std::vector<std::string> &argv, const Options &o);
Result RunEngine(const std::vector<std::string> &args, const Options &o = Options());
// Shorthand: argv in cwd, as uid (and gid uid) when uid >= 0, with extra
// environment; no timeout.
Result RunChild(const std::vector<std::string> &argv, const std::string &cwd = "",
                int uid = -1, const std::vector<std::string> &env_extra = {});

}  // namespace harness

#endif
