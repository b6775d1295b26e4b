#include "tests/harness/fakehost.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gtest/gtest.h"

namespace harness {
namespace {

const FakeOptions *Opts(const pwalk_options *o) { return reinterpret_cast<const FakeOptions *>(o); }

template <class Map, class T>
int Find(const Map &m, const char *name, T *value)
{
    auto it = m.find(name);
    if (it == m.end())
        return -1;
    *value = it->second;
    return 0;
}

int OptString(const pwalk_options *o, const char *name, const char **value)
{
    auto it = Opts(o)->strings.find(name);
    if (it == Opts(o)->strings.end())
        return -1;
    *value = it->second.c_str();
    return 0;
}

int OptBool(const pwalk_options *o, const char *name, int *value)
{
    return Find(Opts(o)->bools, name, value);
}

int OptInt(const pwalk_options *o, const char *name, int64_t *value)
{
    return Find(Opts(o)->ints, name, value);
}

int OptListCount(const pwalk_options *o, const char *name, size_t *count)
{
    auto it = Opts(o)->lists.find(name);
    if (it == Opts(o)->lists.end())
        return -1;
    *count = it->second.size();
    return 0;
}

int OptListItem(const pwalk_options *o, const char *name, size_t index, const char **value)
{
    auto it = Opts(o)->lists.find(name);
    if (it == Opts(o)->lists.end() || index >= it->second.size())
        return -1;
    *value = it->second[index].c_str();
    return 0;
}

std::string VFormat(const char *fmt, va_list ap)
{
    char buf[8192];
    vsnprintf(buf, sizeof buf, fmt, ap);
    return buf;
}

void SetError(pwalk_host_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std::string m = VFormat(fmt, ap);
    va_end(ap);
    std::lock_guard<std::mutex> g(ctx->mu);
    ctx->errors.push_back(m);
}

void Log(pwalk_host_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std::string m = VFormat(fmt, ap);
    va_end(ap);
    std::lock_guard<std::mutex> g(ctx->mu);
    ctx->logs.push_back(m);
}

void EntryError(pwalk_host_ctx *ctx, const char *path, int error_number, const char *operation)
{
    std::lock_guard<std::mutex> g(ctx->mu);
    ctx->entry_errors.push_back({path ? path : "", error_number, operation ? operation : ""});
}

int StopRequested(pwalk_host_ctx *ctx) { return ctx->stop.load(); }

const char *SinkName(pwalk_host_ctx *ctx) { return ctx->sink_name.c_str(); }

int Prune(pwalk_host_ctx *ctx, const char *pattern)
{
    std::lock_guard<std::mutex> g(ctx->mu);
    if (ctx->prune_rc == PWALK_OK)
        ctx->prunes.push_back(pattern);
    return ctx->prune_rc;
}

int OwnOutput(pwalk_host_ctx *ctx, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return PWALK_ERR;
    std::lock_guard<std::mutex> g(ctx->mu);
    ctx->own.emplace_back(st.st_dev, st.st_ino);
    return PWALK_OK;
}

void *Attachment(pwalk_host_ctx *ctx) { return ctx->attachment; }

int CheckpointSave(pwalk_host_ctx *ctx, const void *state, size_t len)
{
    std::lock_guard<std::mutex> g(ctx->mu);
    if (!ctx->in_checkpoint || (len && !state))
        return PWALK_ERR;
    if (ctx->checkpoint_save_rc != PWALK_OK)
        return ctx->checkpoint_save_rc;
    ctx->saved.emplace_back(static_cast<const char *>(state), len);
    ctx->saves_in_checkpoint++;
    return PWALK_OK;
}

size_t CheckpointCount(pwalk_host_ctx *ctx) { return ctx->resume_states.size(); }

int CheckpointState(pwalk_host_ctx *ctx, size_t i, const void **state, size_t *len)
{
    ctx->checkpoint_state_calls++;
    if (!state || !len || i >= ctx->resume_states.size())
        return PWALK_ERR;
    *state = ctx->resume_states[i].data();
    *len = ctx->resume_states[i].size();
    return PWALK_OK;
}

}  // namespace

int FakeScanFacts(pwalk_host_ctx *ctx, pwalk_scan_facts *out)
{
    if (!out || out->struct_size < offsetof(pwalk_scan_facts, thread_count) + sizeof(uint32_t))
        return PWALK_ERR;
    std::lock_guard<std::mutex> g(ctx->mu);
    ctx->scan_facts_calls++;
    ctx->root_ptrs.clear();
    for (const std::string &r : ctx->roots)
        ctx->root_ptrs.push_back(r.c_str());
    pwalk_scan_facts f = {};
    f.thread_count = ctx->thread_count;
    f.rank = ctx->rank;
    f.ranks = ctx->ranks;
    f.start_sec = ctx->start_sec;
    f.end_sec = ctx->end_sec;
    f.hostname = ctx->hostname.c_str();
    f.version = ctx->version.c_str();
    f.roots = ctx->root_ptrs.empty() ? nullptr : ctx->root_ptrs.data();
    f.root_count = (uint32_t)ctx->root_ptrs.size();
    f.entries = ctx->entries;
    f.errors = ctx->errors_count;
    f.filtered = ctx->filtered;
    ctx->session_out = ctx->sessions;
    if (ctx->session_out.empty())
        ctx->session_out.push_back({ctx->start_sec, ctx->end_sec});
    f.session_count = (uint32_t)ctx->session_out.size();
    f.sessions = ctx->session_out.data();
    size_t n = out->struct_size < sizeof f ? out->struct_size : sizeof f;
    f.struct_size = (uint32_t)n;
    memcpy(out, &f, n);
    return PWALK_OK;
}

pwalk_host FakeHostTable(uint32_t worker_count)
{
    pwalk_host h = {};
    h.struct_size = sizeof h;
    h.abi_major = PWALK_ABI_MAJOR;
    h.abi_minor = PWALK_ABI_MINOR;
    h.worker_count = worker_count;
    h.opt_string = OptString;
    h.opt_bool = OptBool;
    h.opt_int = OptInt;
    h.opt_list_count = OptListCount;
    h.opt_list_item = OptListItem;
    h.set_error = SetError;
    h.log = Log;
    h.entry_error = EntryError;
    h.stop_requested = StopRequested;
    h.sink_name = SinkName;
    h.prune = Prune;           // 1.1
    h.own_output = OwnOutput;  // 1.2
    h.attachment = Attachment;  // 1.2
    h.scan_facts = FakeScanFacts;  // 1.3
    h.checkpoint_save = CheckpointSave;  // 1.4
    h.checkpoint_count = CheckpointCount;
    h.checkpoint_state = CheckpointState;
    return h;
}

void SetOptionGetters(pwalk_host *h, decltype(pwalk_host::opt_string) opt_string,
                      decltype(pwalk_host::opt_bool) opt_bool,
                      decltype(pwalk_host::opt_int) opt_int,
                      decltype(pwalk_host::opt_list_count) opt_list_count,
                      decltype(pwalk_host::opt_list_item) opt_list_item)
{
    h->opt_string = opt_string;
    h->opt_bool = opt_bool;
    h->opt_int = opt_int;
    h->opt_list_count = opt_list_count;
    h->opt_list_item = opt_list_item;
}

int Checkpoint(const pwalk_plugin *plugin, void *instance, pwalk_host_ctx *ctx)
{
    {
        std::lock_guard<std::mutex> g(ctx->mu);
        ctx->in_checkpoint = true;
        ctx->saves_in_checkpoint = 0;
    }
    int rc = plugin->checkpoint ? plugin->checkpoint(instance) : PWALK_ERR;
    std::lock_guard<std::mutex> g(ctx->mu);
    ctx->in_checkpoint = false;
    return rc;
}

pwalk_entry SyntheticEntry(const std::string &path, int depth, bool dir)
{
    pwalk_entry p = {};
    p.struct_size = sizeof p;
    p.flags = depth < 0 ? PWALK_ENTRY_ROOT : 0;
    p.path = path.c_str();
    p.path_len = (uint32_t)path.size();
    p.name_offset = depth < 0 ? 0 : (uint32_t)(path.rfind('/') + 1);
    p.name = p.path + p.name_offset;
    p.parent_fd = p.self_fd = -1;
    p.depth = depth;
    p.mode = dir ? (S_IFDIR | 0755) : (S_IFREG | 0644);
    p.gid = 100;
    p.dev = 64768;
    p.nlink = 1;
    p.fcount = dir ? 0 : -1;
    return p;
}

void *StartSession(const pwalk_plugin *plugin, const pwalk_host *host, pwalk_host_ctx *ctx,
                   const pwalk_options *opts, void **ts, uint32_t workers, std::string *error)
{
    void *inst = nullptr;
    if (plugin->create(host, ctx, opts, &inst) != PWALK_OK) {
        if (error)
            *error = ctx->error();
        plugin->finish(inst, PWALK_SUSPENDED);
        plugin->destroy(inst);
        return nullptr;
    }
    for (uint32_t w = 0; w < workers; w++)
        EXPECT_EQ(plugin->thread_open(inst, w, &ts[w]), PWALK_OK);
    return inst;
}

void EndTableAt(pwalk_host *h, uint32_t minor)
{
    // the first field each minor added; the table of 1.minor ends before
    // the one of 1.(minor+1)
    size_t end = sizeof *h;
    if (minor < 1)
        end = offsetof(pwalk_host, prune);
    else if (minor < 2)
        end = offsetof(pwalk_host, own_output);
    else if (minor < 3)
        end = offsetof(pwalk_host, scan_facts);
    else if (minor < 4)
        end = offsetof(pwalk_host, checkpoint_save);
    memset(reinterpret_cast<char *>(h) + end, 0, sizeof *h - end);
    h->struct_size = (uint32_t)end;
    h->abi_minor = minor;
}

}  // namespace harness
