#include "tests/harness/process.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sstream>

#include "tests/harness/files.h"

namespace harness {

double Now()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

std::string Runfile(const std::string &rel)
{
    const char *srcdir = getenv("TEST_SRCDIR");
    return std::string(srcdir ? srcdir : ".") + "/pwalk/" + rel;
}

std::string EnginePath() { return Runfile("pwalk-engine"); }
std::string PluginDir() { return Runfile("plugins"); }
std::string FixtureDir() { return Runfile("tests/faults/fixtures"); }

std::string Result::Describe() const
{
    std::ostringstream s;
    s << "status " << status << (signaled ? " (signal " + std::to_string(signal) + ")" : "")
      << (timed_out ? " TIMED OUT" : "") << "\n--- stderr ---\n";
    // a sanitizer's report is at the end of a possibly long stderr
    if (err.size() <= 12000)
        s << err;
    else
        s << err.substr(0, 3000) << "\n[... " << err.size() - 12000 << " bytes ...]\n"
          << err.substr(err.size() - 9000);
    s << "\n--- stdout (first 1000 bytes) ---\n" << out.substr(0, 1000);
    return s.str();
}

Child::~Child()
{
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (!io_dir_.empty()) {
        unlink(out_.c_str());
        unlink(err_.c_str());
        rmdir(io_dir_.c_str());
    }
}

// The child's side of StartProgram(): never returns.
[[noreturn]] static void Exec(const std::vector<std::string> &argv, const Options &o,
                              const std::string &out_path, const std::string &err_path)
{
    if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0)
        _exit(120);
    for (const std::string &u : o.unset)
        unsetenv(u.c_str());
    for (const std::string &e : o.env)
        putenv(strdup(e.c_str()));
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int in = open("/dev/null", O_RDONLY);  // the engine must not need stdin
    if (out < 0 || err < 0 || in < 0)
        _exit(121);
    dup2(out, 1);
    dup2(err, 2);
    dup2(in, 0);
    if (o.in_child)
        o.in_child();
    if (o.nofile) {
        struct rlimit rl = {o.nofile, o.nofile};
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    // no supplementary groups: root's would grant access to the very
    // directories a test wants to be unreadable
    if (o.uid && (setgroups(0, nullptr) != 0 || setgid(o.gid) != 0 || setuid(o.uid) != 0))
        _exit(122);
    // a clean signal state: the test runner may block or ignore some
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    std::vector<char *> av;
    for (const std::string &a : argv)
        av.push_back(const_cast<char *>(a.c_str()));
    av.push_back(nullptr);
    execv(av[0], av.data());
    _exit(127);
}

bool Child::StartProgram(const std::vector<std::string> &argv, const Options &o)
{
    char tmpl[] = "/tmp/pwalk-io-XXXXXX";
    if (argv.empty() || !mkdtemp(tmpl))
        return false;
    io_dir_ = tmpl;
    chmod(io_dir_.c_str(), 0777);  // also writable when run as nobody
    out_ = o.out_file.empty() ? io_dir_ + "/stdout" : o.out_file;
    err_ = o.err_file.empty() ? io_dir_ + "/stderr" : o.err_file;
    timeout_ = o.timeout;
    fflush(nullptr);
    start_ = Now();
    pid_ = fork();
    if (pid_ < 0)
        return false;
    if (pid_ == 0)
        Exec(argv, o, out_, err_);
    return true;
}

bool Child::Start(const std::vector<std::string> &args, const Options &o)
{
    std::vector<std::string> argv = {o.engine.empty() ? EnginePath() : o.engine};
    argv.insert(argv.end(), args.begin(), args.end());
    return StartProgram(argv, o);
}

double Child::Elapsed() const { return Now() - start_; }

bool Child::Exited(Result *r)
{
    int st;
    pid_t got = waitpid(pid_, &st, WNOHANG);
    if (got != pid_)
        return false;
    Collect(st, r);
    return true;
}

Result Child::Wait()
{
    Result r;
    for (;;) {
        if (Exited(&r))
            return r;
        if (timeout_ > 0 && Elapsed() > timeout_) {
            kill(pid_, SIGKILL);
            int st;
            waitpid(pid_, &st, 0);
            Collect(st, &r);
            r.timed_out = true;
            return r;
        }
        usleep(2000);
    }
}

void Child::Collect(int st, Result *r)
{
    r->seconds = Now() - start_;
    pid_ = -1;
    if (WIFEXITED(st)) {
        r->status = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        r->signaled = true;
        r->signal = WTERMSIG(st);
        r->status = 128 + r->signal;
    }
    r->out = ReadFile(out_);
    r->err = ReadFile(err_);
}

static Result Collected(Child *c, bool started, const char *what)
{
    if (started)
        return c->Wait();
    Result r;
    r.err = std::string("could not start ") + what;
    return r;
}

Result RunChild(const std::vector<std::string> &argv, const Options &o)
{
    Child c;
    return Collected(&c, c.StartProgram(argv, o), argv.empty() ? "nothing" : argv[0].c_str());
}

Result RunEngine(const std::vector<std::string> &args, const Options &o)
{
    Child c;
    return Collected(&c, c.Start(args, o), "the engine");
}

Result RunChild(const std::vector<std::string> &argv, const std::string &cwd, int uid,
                const std::vector<std::string> &env_extra)
{
    Options o;
    o.cwd = cwd;
    o.env = env_extra;
    o.timeout = 0;
    if (uid >= 0) {
        o.uid = (uid_t)uid;
        o.gid = (gid_t)uid;
    }
    return RunChild(argv, o);
}

}  // namespace harness
