// fakehost.h -- a stand-in for the engine's side of the plugin ABI, for
// tests that dlopen a plugin (or link one) and drive its lifecycle
// themselves.  FakeHostTable() fills EVERY field of pwalk_host
// (include/pwalk/plugin.h); each service records what the plugin asked of
// it in the pwalk_host_ctx it is called with, which the test owns and
// reads back.  Option getters read a FakeOptions; a test that binds real
// options with engine/options.c puts options_get_* in the table instead.
//
// Adding a host service to the ABI: a field (and what it records) in
// pwalk_host_ctx below, its fake in fakehost.cc, one line in
// FakeHostTable(), its minor in EndTableAt().  harness_test checks that no
// field of the table is left NULL.
#ifndef PWALK_TESTS_HARNESS_FAKEHOST_H
#define PWALK_TESTS_HARNESS_FAKEHOST_H

#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pwalk/plugin.h"

namespace harness {

// One host->entry_error() call.
struct EntryErrorCall {
    std::string path;
    int error_number;
    std::string operation;
};

}  // namespace harness

// The opaque context of plugin.h as this fake host defines it: what the
// plugin told the host (the services append under mu; read it once the
// plugin's threads are done) and how the host answers.
struct pwalk_host_ctx {
    std::mutex mu;
    std::vector<std::string> errors;  // set_error(), in call order
    std::vector<std::string> logs;    // log()
    std::vector<harness::EntryErrorCall> entry_errors;
    std::vector<std::string> prunes;               // prune() patterns
    std::vector<std::pair<dev_t, ino_t>> own;      // files given to own_output()

    std::string sink_name = "sink";  // what sink_name() answers
    std::atomic<int> stop{0};        // what stop_requested() answers
    int prune_rc = PWALK_OK;         // what prune() returns
    void *attachment = nullptr;      // what attachment() answers

    // What scan_facts() (1.3) answers: hostname, version and roots are
    // handed out as pointers into these strings; start_sec is "now" when
    // the context is made, as an engine's scan would start.
    uint32_t thread_count = 2;
    int32_t rank = 0, ranks = 1;
    int64_t start_sec = (int64_t)time(nullptr);
    int64_t end_sec = 0;
    std::string hostname = "fakehost";
    std::string version = "0.0.0-fakehost";
    std::vector<std::string> roots;
    uint64_t entries = 0, errors_count = 0, filtered = 0;
    int scan_facts_calls = 0;
    std::vector<const char *> root_ptrs;  // scan_facts()'s roots array
    // 1.4: the sessions scan_facts() reports; empty: one, {start_sec,
    // end_sec}, as a scan that ran in one go.
    std::vector<pwalk_session> sessions;
    std::vector<pwalk_session> session_out;  // scan_facts()'s sessions array

    // 1.4 checkpoints.  What checkpoint_count()/checkpoint_state() answer:
    // the states a resumed create() continues (empty: a fresh scan).  A
    // test resumes with another context's saves: ctx2.resume_states =
    // {ctx.saved.back()}.
    std::vector<std::string> resume_states;
    // checkpoint_save() calls, in order (the bytes given, copied).  The
    // engine accepts them only inside checkpoint(): harness::Checkpoint()
    // sets in_checkpoint around the call, and a save outside it fails.
    std::vector<std::string> saved;
    bool in_checkpoint = false;
    int saves_in_checkpoint = 0;         // saves during the last Checkpoint()
    int checkpoint_save_rc = PWALK_OK;   // what checkpoint_save() returns
    int checkpoint_state_calls = 0;

    // The last set_error() message, "" when there was none.
    std::string error() const { return errors.empty() ? "" : errors.back(); }
};

namespace harness {

// A sink's options for the fake getters; pass get() to create().
struct FakeOptions {
    std::map<std::string, std::string> strings;  // STRING and ENUM
    std::map<std::string, int> bools;
    std::map<std::string, int64_t> ints;
    std::map<std::string, std::vector<std::string>> lists;

    const pwalk_options *get() const { return reinterpret_cast<const pwalk_options *>(this); }
};

// A host table of this ABI (PWALK_ABI_MAJOR.PWALK_ABI_MINOR) with every
// service filled.
pwalk_host FakeHostTable(uint32_t worker_count = 2);

// Put another option store's getters in *h: a test that binds options with
// the engine's options.c passes options_get_string, ... (engine/options.h).
void SetOptionGetters(pwalk_host *h, decltype(pwalk_host::opt_string) opt_string,
                      decltype(pwalk_host::opt_bool) opt_bool,
                      decltype(pwalk_host::opt_int) opt_int,
                      decltype(pwalk_host::opt_list_count) opt_list_count,
                      decltype(pwalk_host::opt_list_item) opt_list_item);

// Fill *f the way an engine's host->scan_facts() does, from ctx: as many
// fields as f->struct_size holds (it is set to what was written).
int FakeScanFacts(pwalk_host_ctx *ctx, pwalk_scan_facts *f);

// Run plugin->checkpoint(instance) as the engine does (1.4): saves are
// accepted during the call only; ctx->saves_in_checkpoint says how many
// there were (the ABI wants exactly one on success).  Returns what the
// plugin returned.
int Checkpoint(const pwalk_plugin *plugin, void *instance, pwalk_host_ctx *ctx);

// A made-up entry at path (which must outlive it) of this depth (-1: the
// root, flagged PWALK_ENTRY_ROOT), a directory (0755, fcount 0) or a file
// (0644, fcount -1): name and fds as the engine hands them over, gid 100,
// dev 64768, nlink 1.  The caller sets what its test is about: ino, uid,
// size, blocks, times.
pwalk_entry SyntheticEntry(const std::string &path, int depth, bool dir);

// One session's start as the engine makes it: create() (with ctx's resume
// states), then thread_open() for workers 0..workers-1 into ts.  When
// create() fails: *error (if given) gets the host's message, the instance
// is finished as suspended (its parts stay for the journal) and destroyed,
// and NULL is returned.
void *StartSession(const pwalk_plugin *plugin, const pwalk_host *host, pwalk_host_ctx *ctx,
                   const pwalk_options *opts, void **ts, uint32_t workers, std::string *error);

// Make *h the table an engine of ABI 1.minor passes: struct_size ends at
// that minor's last field, the later fields are NULL.
void EndTableAt(pwalk_host *h, uint32_t minor);

}  // namespace harness

#endif
