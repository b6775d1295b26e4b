/*
 * header_c99.c -- pwalk/plugin.h compiled as strict C99 (-std=c99 -pedantic
 * -Werror): the header must be included FIRST and alone, so a missing
 * include inside it fails here rather than in a site's plugin build.
 *
 * It also holds a minimal plugin written the way a C author would (with
 * designated initializers), exporting the real entry symbol, and reports
 * its view of the layout so the C++ side can compare the two compilers.
 */
#include "pwalk/plugin.h"

/* C99 has no _Static_assert; a negative array size stops the build. */
#define HDR_ASSERT(name, cond) typedef char hdr_assert_##name[(cond) ? 1 : -1]

#if defined(__x86_64__) && defined(__LP64__)
HDR_ASSERT(entry_size, sizeof(pwalk_entry) == 168);
HDR_ASSERT(entry_path, offsetof(pwalk_entry, path) == 8);
HDR_ASSERT(entry_name, offsetof(pwalk_entry, name) == 24);
HDR_ASSERT(entry_parent_fd, offsetof(pwalk_entry, parent_fd) == 32);
HDR_ASSERT(entry_mode, offsetof(pwalk_entry, mode) == 44);
HDR_ASSERT(entry_ino, offsetof(pwalk_entry, ino) == 56);
HDR_ASSERT(entry_size_field, offsetof(pwalk_entry, size) == 88);
HDR_ASSERT(entry_atime_nsec, offsetof(pwalk_entry, atime_nsec) == 128);
HDR_ASSERT(entry_dirsum, offsetof(pwalk_entry, dirsum) == 152);
HDR_ASSERT(entry_root_dev, offsetof(pwalk_entry, root_dev) == 160);
HDR_ASSERT(error_size, sizeof(pwalk_error) == 32);
HDR_ASSERT(error_operation, offsetof(pwalk_error, operation) == 24);
HDR_ASSERT(error_kind, offsetof(pwalk_error, kind) == 20); /* 1.2: was reserved0 */
HDR_ASSERT(spec_size, sizeof(pwalk_option_spec) == 40);
HDR_ASSERT(spec_help, offsetof(pwalk_option_spec, help) == 32);
HDR_ASSERT(spec_flags, offsetof(pwalk_option_spec, flags) == 12); /* 1.2: was reserved0 */
HDR_ASSERT(host_size, sizeof(pwalk_host) == 152); /* 1.1 prune, 1.2 own_output, attachment, 1.3 scan_facts, 1.4 checkpoint_save/_count/_state */
HDR_ASSERT(host_scan_facts, offsetof(pwalk_host, scan_facts) == 120);
HDR_ASSERT(host_prune, offsetof(pwalk_host, prune) == 96);
HDR_ASSERT(host_own_output, offsetof(pwalk_host, own_output) == 104);
HDR_ASSERT(host_attachment, offsetof(pwalk_host, attachment) == 112);
HDR_ASSERT(host_opt_string, offsetof(pwalk_host, opt_string) == 16);
HDR_ASSERT(host_set_error, offsetof(pwalk_host, set_error) == 56);
HDR_ASSERT(host_sink_name, offsetof(pwalk_host, sink_name) == 88);
HDR_ASSERT(plugin_size, sizeof(pwalk_plugin) == 136); /* 1.1 appended prepare, 1.3 merge, 1.4 checkpoint */
HDR_ASSERT(plugin_merge, offsetof(pwalk_plugin, merge) == 120);
HDR_ASSERT(facts_size, sizeof(pwalk_scan_facts) == 104); /* 1.3, 1.4 sessions, flags (was reserved0) */
HDR_ASSERT(session_size, sizeof(pwalk_session) == 16); /* 1.4 */
HDR_ASSERT(facts_rank, offsetof(pwalk_scan_facts, rank) == 8);
HDR_ASSERT(facts_start, offsetof(pwalk_scan_facts, start_sec) == 16);
HDR_ASSERT(facts_hostname, offsetof(pwalk_scan_facts, hostname) == 32);
HDR_ASSERT(facts_roots, offsetof(pwalk_scan_facts, roots) == 48);
HDR_ASSERT(facts_root_count, offsetof(pwalk_scan_facts, root_count) == 56);
HDR_ASSERT(facts_entries, offsetof(pwalk_scan_facts, entries) == 64);
HDR_ASSERT(facts_filtered, offsetof(pwalk_scan_facts, filtered) == 80);
HDR_ASSERT(plugin_prepare, offsetof(pwalk_plugin, prepare) == 112);
HDR_ASSERT(plugin_name, offsetof(pwalk_plugin, name) == 24);
HDR_ASSERT(plugin_options, offsetof(pwalk_plugin, options) == 48);
HDR_ASSERT(plugin_create, offsetof(pwalk_plugin, create) == 56);
HDR_ASSERT(plugin_destroy, offsetof(pwalk_plugin, destroy) == 104);
#endif

/* Every boundary struct starts with its size (the versioning rule). */
HDR_ASSERT(entry_first, offsetof(pwalk_entry, struct_size) == 0);
HDR_ASSERT(error_first, offsetof(pwalk_error, struct_size) == 0);
HDR_ASSERT(host_first, offsetof(pwalk_host, struct_size) == 0);
HDR_ASSERT(plugin_first, offsetof(pwalk_plugin, struct_size) == 0);

static int hdr_consume(void *instance, void *tstate, const pwalk_entry *entries, size_t count)
{
    (void)instance;
    (void)tstate;
    (void)entries;
    (void)count;
    return PWALK_OK;
}

static int hdr_create(const pwalk_host *host, pwalk_host_ctx *ctx, const pwalk_options *opts,
                      void **instance)
{
    (void)host;
    (void)ctx;
    (void)opts;
    *instance = 0;
    return PWALK_OK;
}

static const pwalk_option_spec hdr_options[] = {
    {"path", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, "-", 0, "output file"},
};

static const pwalk_plugin hdr_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .threading = PWALK_THREADING_SERIAL,
    .option_count = 1,
    .name = "header_c99",
    .options = hdr_options,
    .create = hdr_create,
    .consume = hdr_consume,
};

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void);

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void)
{
    return &hdr_plugin;
}

/* The layout as this C compiler sees it; see header_cxx.cc. */
size_t header_c99_layout(size_t *out, size_t n);
int header_c99_host_has_prune(size_t host_size);
int header_c99_host_has_own_output(size_t host_size);

size_t header_c99_layout(size_t *out, size_t n)
{
    const size_t v[] = {
        sizeof(pwalk_entry),       offsetof(pwalk_entry, root_dev),
        offsetof(pwalk_entry, dirsum), sizeof(pwalk_error),
        offsetof(pwalk_error, operation), sizeof(pwalk_option_spec),
        sizeof(pwalk_host),        offsetof(pwalk_host, sink_name),
        sizeof(pwalk_plugin),      offsetof(pwalk_plugin, destroy),
    };
    size_t count = sizeof v / sizeof v[0];
    for (size_t i = 0; i < n && i < count; i++)
        out[i] = v[i];
    return count;
}

/* PWALK_HOST_HAS compiles as C99 and tells a 1.0 table from a 1.1 one. */
int header_c99_host_has_prune(size_t host_size)
{
    pwalk_host h = {0};
    h.struct_size = (uint32_t)host_size;
    return PWALK_HOST_HAS(&h, prune);
}

/* ... and a 1.1 table from a 1.2 one. */
int header_c99_host_has_own_output(size_t host_size)
{
    pwalk_host h = {0};
    h.struct_size = (uint32_t)host_size;
    return PWALK_HOST_HAS(&h, own_output);
}
