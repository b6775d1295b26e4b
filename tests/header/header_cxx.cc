// header_cxx.cc -- pwalk/plugin.h compiled as C++11 (-pedantic -Werror),
// included first and alone; the same layout pins as the C side, and at run
// time: the C and C++ compilers agree on the layout, and the entry symbol
// named by PWALK_PLUGIN_ENTRY_SYMBOL is the one a plugin defines.
#include "pwalk/plugin.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <string>

#if defined(__x86_64__) && defined(__LP64__)
static_assert(sizeof(pwalk_entry) == 168, "pwalk_entry size");
static_assert(offsetof(pwalk_entry, path) == 8, "pwalk_entry.path");
static_assert(offsetof(pwalk_entry, name) == 24, "pwalk_entry.name");
static_assert(offsetof(pwalk_entry, mode) == 44, "pwalk_entry.mode");
static_assert(offsetof(pwalk_entry, ino) == 56, "pwalk_entry.ino");
static_assert(offsetof(pwalk_entry, size) == 88, "pwalk_entry.size");
static_assert(offsetof(pwalk_entry, dirsum) == 152, "pwalk_entry.dirsum");
static_assert(offsetof(pwalk_entry, root_dev) == 160, "pwalk_entry.root_dev");
static_assert(sizeof(pwalk_error) == 32, "pwalk_error size");
static_assert(offsetof(pwalk_error, operation) == 24, "pwalk_error.operation");
static_assert(offsetof(pwalk_error, kind) == 20, "pwalk_error.kind (1.2, was reserved0)");
static_assert(sizeof(pwalk_option_spec) == 40, "pwalk_option_spec size");
static_assert(offsetof(pwalk_option_spec, flags) == 12, "pwalk_option_spec.flags (1.2, was reserved0)");
static_assert(sizeof(pwalk_host) == 152, "pwalk_host size");
static_assert(offsetof(pwalk_host, checkpoint_state) == 144, "pwalk_host.checkpoint_state (1.4)");
static_assert(offsetof(pwalk_host, scan_facts) == 120, "pwalk_host.scan_facts (1.3)");
static_assert(offsetof(pwalk_host, prune) == 96, "pwalk_host.prune (1.1)");
static_assert(offsetof(pwalk_host, own_output) == 104, "pwalk_host.own_output (1.2)");
static_assert(offsetof(pwalk_host, attachment) == 112, "pwalk_host.attachment (1.2)");
static_assert(offsetof(pwalk_host, set_error) == 56, "pwalk_host.set_error");
static_assert(offsetof(pwalk_host, sink_name) == 88, "pwalk_host.sink_name");
static_assert(sizeof(pwalk_plugin) == 136, "pwalk_plugin size");
static_assert(offsetof(pwalk_plugin, merge) == 120, "pwalk_plugin.merge (1.3)");
static_assert(sizeof(pwalk_scan_facts) == 104, "pwalk_scan_facts size (1.4)");
static_assert(offsetof(pwalk_scan_facts, start_sec) == 16, "pwalk_scan_facts.start_sec");
static_assert(offsetof(pwalk_scan_facts, roots) == 48, "pwalk_scan_facts.roots");
static_assert(offsetof(pwalk_scan_facts, entries) == 64, "pwalk_scan_facts.entries");
static_assert(offsetof(pwalk_plugin, prepare) == 112, "pwalk_plugin.prepare (1.1)");
static_assert(offsetof(pwalk_plugin, create) == 56, "pwalk_plugin.create");
static_assert(offsetof(pwalk_plugin, destroy) == 104, "pwalk_plugin.destroy");
#endif

// A C++ plugin author has no designated initializers in C++11: aggregate
// order must work too.
static int CxxConsume(void *, void *, const pwalk_entry *, size_t) { return PWALK_OK; }
static int CxxCreate(const pwalk_host *, pwalk_host_ctx *, const pwalk_options *, void **i)
{
    *i = nullptr;
    return PWALK_OK;
}
static const pwalk_plugin kCxxPlugin = {
    sizeof(pwalk_plugin), PWALK_ABI_MAJOR, PWALK_ABI_MINOR, 0, PWALK_THREADING_PER_WORKER, 0,
    "header_cxx", "1", "C++ aggregate initialisation", nullptr, CxxCreate, nullptr,
    CxxConsume, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

extern "C" size_t header_c99_layout(size_t *out, size_t n);
extern "C" int header_c99_host_has_prune(size_t host_size);
extern "C" int header_c99_host_has_own_output(size_t host_size);

static int failures = 0;

static void Check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "FAIL: %s\n", what);
        failures++;
    }
}

int main()
{
    // The exported function's name carries the major.
    Check(std::string(PWALK_PLUGIN_ENTRY_SYMBOL) ==
              "pwalk_plugin_entry_v" + std::to_string(PWALK_ABI_MAJOR),
          "PWALK_PLUGIN_ENTRY_SYMBOL names the ABI major");
    // a 1.0 engine's host table ends at sink_name: prune() is not there
    Check(!header_c99_host_has_prune(offsetof(pwalk_host, sink_name) + sizeof(void *)),
          "PWALK_HOST_HAS: a 1.0 table has no prune");
    Check(header_c99_host_has_prune(sizeof(pwalk_host)), "PWALK_HOST_HAS: a 1.1 table has prune");
    // a 1.1 engine's table ends at prune: own_output() is not there
    Check(!header_c99_host_has_own_output(offsetof(pwalk_host, prune) + sizeof(void *)),
          "PWALK_HOST_HAS: a 1.1 table has no own_output");
    Check(header_c99_host_has_own_output(sizeof(pwalk_host)),
          "PWALK_HOST_HAS: a 1.2 table has own_output");
    // a 1.2 engine's table ends at attachment: scan_facts() is not there
    {
        pwalk_host h{};
        h.struct_size = (uint32_t)(offsetof(pwalk_host, attachment) + sizeof(void *));
        Check(!PWALK_HOST_HAS(&h, scan_facts), "PWALK_HOST_HAS: a 1.2 table has no scan_facts");
        h.struct_size = sizeof h;
        Check(PWALK_HOST_HAS(&h, scan_facts), "PWALK_HOST_HAS: a 1.3 table has scan_facts");
        pwalk_plugin p{};
        p.struct_size = (uint32_t)(offsetof(pwalk_plugin, prepare) + sizeof(void *));
        Check(!PWALK_STRUCT_HAS(&p, pwalk_plugin, merge), "a 1.2 plugin has no merge");
    }
    {
        pwalk_host h{};
        h.struct_size = sizeof h;
        Check(PWALK_HOST_HAS(&h, prune), "PWALK_HOST_HAS compiles as C++");
    }

    // C and C++ see the same layout.
    const size_t cxx[] = {
        sizeof(pwalk_entry),       offsetof(pwalk_entry, root_dev),
        offsetof(pwalk_entry, dirsum), sizeof(pwalk_error),
        offsetof(pwalk_error, operation), sizeof(pwalk_option_spec),
        sizeof(pwalk_host),        offsetof(pwalk_host, sink_name),
        sizeof(pwalk_plugin),      offsetof(pwalk_plugin, destroy),
    };
    size_t c[sizeof cxx / sizeof cxx[0]] = {0};
    Check(header_c99_layout(c, sizeof cxx / sizeof cxx[0]) == sizeof cxx / sizeof cxx[0],
          "C and C++ compare the same number of fields");
    for (size_t i = 0; i < sizeof cxx / sizeof cxx[0]; i++)
        if (c[i] != cxx[i]) {
            std::fprintf(stderr, "layout item %zu: C %zu, C++ %zu\n", i, c[i], cxx[i]);
            Check(false, "C and C++ layouts agree");
        }

    // The C file's plugin is found by the symbol name, as the loader finds it.
    void *sym = dlsym(RTLD_DEFAULT, PWALK_PLUGIN_ENTRY_SYMBOL);
    Check(sym != nullptr, "entry symbol is exported under PWALK_PLUGIN_ENTRY_SYMBOL");
    if (sym) {
        pwalk_plugin_entry_fn entry;
        std::memcpy(&entry, &sym, sizeof entry);
        const pwalk_plugin *p = entry();
        Check(p && p->struct_size == sizeof(pwalk_plugin), "C plugin struct_size");
        Check(p && p->abi_major == PWALK_ABI_MAJOR, "C plugin abi_major");
        Check(p && std::strcmp(p->name, "header_c99") == 0, "C plugin name");
        Check(p && p->options && std::strcmp(p->options[0].name, "path") == 0,
              "C plugin options");
    }
    Check(kCxxPlugin.consume == CxxConsume && kCxxPlugin.destroy == nullptr,
          "C++ aggregate initialisation fills fields in order");

    // Return codes keep their documented signs.
    Check(PWALK_OK == 0 && PWALK_STOP > 0 && PWALK_ERR < 0 && PWALK_ERR_NOMEM < 0 &&
              PWALK_ERR_IO < 0 && PWALK_ERR_CONFIG < 0,
          "return code signs");

    if (failures == 0)
        std::printf("header: all checks passed\n");
    return failures ? 1 : 0;
}
