// oswalk_readahead_test.cc -- the read-ahead behind pwalk.walk(), in C: listings
// match readdir, read-ahead happens and stays bounded, pruning cancels it,
// and any number of readers gives the same walk as none.
#include "python/src/oswalk_readahead.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace {

struct TempTree {
    std::string root;
    TempTree()
    {
        const char *base = getenv("TEST_TMPDIR");
        std::string tmpl = std::string(base ? base : "/tmp") + "/walkahead.XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        root = mkdtemp(buf.data());
    }
    ~TempTree()
    {
        std::string cmd = "rm -rf '" + root + "'";
        (void)!system(cmd.c_str());
    }
    void dir(const std::string &rel) const { mkdir((root + "/" + rel).c_str(), 0755); }
    void file(const std::string &rel) const
    {
        int fd = open((root + "/" + rel).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
    }
    // width^depth directories, `files` files in each
    void grow(const std::string &rel, int depth, int width, int files) const
    {
        for (int f = 0; f < files; f++)
            file(rel + "/f" + std::to_string(f));
        if (depth == 0)
            return;
        for (int w = 0; w < width; w++) {
            std::string d = rel + "/d" + std::to_string(w);
            dir(d);
            grow(d, depth - 1, width, files);
        }
    }
};

struct Entry {
    std::string name;
    unsigned flags;
    bool operator==(const Entry &o) const { return name == o.name && flags == o.flags; }
};

std::vector<Entry> entries(const wa_node *n)
{
    wa_listing l;
    wa_listing_of(n, &l);
    std::vector<Entry> out;
    const char *p = l.names;
    for (size_t i = 0; i < l.count; p += l.lens[i] + 1, i++)
        out.push_back({std::string(p, l.lens[i]), (unsigned)(l.flags[i] & (WA_DIR | WA_LINK))});
    return out;
}

wa_walker *make(unsigned readers, size_t max_dirs = 4096, int followlinks = 0)
{
    wa_options o{};
    o.readers = readers;
    o.followlinks = followlinks;
    o.max_bytes = 64 << 20;
    o.max_dirs = max_dirs;
    wa_walker *w = nullptr;
    EXPECT_EQ(wa_create(&o, &w), 0);
    return w;
}

wa_node *take(wa_walker *w, const std::string &path)
{
    return wa_take(w, path.data(), path.size(), nullptr, nullptr);
}

// A whole top-down walk: each directory's path and entries, in order.
std::vector<std::pair<std::string, std::vector<Entry>>> walk_all(
    wa_walker *w, const std::string &top,
    const std::function<void(std::vector<std::string> &)> &steer = nullptr)
{
    std::vector<std::pair<std::string, std::vector<Entry>>> out;
    std::vector<std::string> stack{top};
    while (!stack.empty()) {
        std::string p = stack.back();
        stack.pop_back();
        wa_node *n = take(w, p);
        EXPECT_NE(n, nullptr);
        wa_listing l;
        wa_listing_of(n, &l);
        if (l.error) {
            out.push_back({p + " error " + std::to_string(l.error), {}});
            wa_release(w, n);
            continue;
        }
        auto es = entries(n);
        out.push_back({p, es});
        std::vector<std::string> dirs;
        for (auto &e : es)
            if ((e.flags & WA_DIR) && !(e.flags & WA_LINK))
                dirs.push_back(e.name);
        if (steer)
            steer(dirs);
        std::vector<const char *> names;
        std::vector<size_t> lens;
        for (auto &d : dirs) {
            names.push_back(d.c_str());
            lens.push_back(d.size());
        }
        EXPECT_EQ(wa_prune(w, n, names.data(), lens.data(), names.size()), 0);
        wa_drop_listing(w, n);
        wa_release(w, n);
        for (auto it = dirs.rbegin(); it != dirs.rend(); ++it)
            stack.push_back(p + "/" + *it);
    }
    return out;
}

TEST(Walkahead, ListingIsReaddirOrderWithScandirFlags)
{
    TempTree t;
    t.grow("", 1, 3, 5);
    t.file(".hidden");
    symlink("d0", (t.root + "/link-dir").c_str());
    symlink("f0", (t.root + "/link-file").c_str());
    symlink("nowhere", (t.root + "/dangling").c_str());
    mkfifo((t.root + "/fifo").c_str(), 0644);

    std::vector<std::string> want;
    DIR *d = opendir(t.root.c_str());
    ASSERT_NE(d, nullptr);
    while (struct dirent *e = readdir(d))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            want.push_back(e->d_name);
    closedir(d);

    wa_walker *w = make(0);
    wa_node *n = take(w, t.root);
    auto got = entries(n);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); i++) {
        EXPECT_EQ(got[i].name, want[i]);
        const std::string &nm = got[i].name;
        unsigned expect = nm[0] == 'd' && nm.size() == 2 ? WA_DIR
                          : nm == "link-dir"              ? (WA_DIR | WA_LINK)
                          : nm.rfind("link", 0) == 0 || nm == "dangling" ? WA_LINK
                                                                       : 0u;
        EXPECT_EQ(got[i].flags, expect) << nm;
    }
    wa_listing l;
    wa_listing_of(n, &l);
    EXPECT_EQ(l.ndirs, 4u); // d0 d1 d2 link-dir
    wa_release(w, n);
    wa_destroy(w);
}

TEST(Walkahead, ErrorsAreOpendirErrnos)
{
    TempTree t;
    t.file("plain");
    wa_walker *w = make(2);
    for (auto [rel, err] : std::vector<std::pair<std::string, int>>{
             {"/missing", ENOENT}, {"/plain", ENOTDIR}, {"/plain/x", ENOTDIR}}) {
        wa_node *n = take(w, t.root + rel);
        wa_listing l;
        wa_listing_of(n, &l);
        EXPECT_EQ(l.error, err) << rel;
        EXPECT_EQ(l.count, 0u);
        wa_release(w, n);
    }
    wa_destroy(w);
}

TEST(Walkahead, ReadersGetAheadAndTheBufferStaysBounded)
{
    TempTree t;
    t.grow("", 3, 6, 3); // 259 directories
    wa_walker *w = make(3, 20);
    wa_node *n = take(w, t.root);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    wa_stats s;
    wa_get_stats(w, &s);
    EXPECT_EQ(s.readers, 3u);
    EXPECT_GT(s.read_ahead, 0u);
    EXPECT_LE(s.peak_dirs, 20u + 3u);
    wa_release(w, n);
    wa_destroy(w); // with readers parked on a full buffer
}

TEST(Walkahead, PruningCancelsReadAheadBelowRemovedDirectories)
{
    TempTree t;
    t.grow("", 3, 5, 2);
    wa_walker *w = make(2, 100000);
    wa_node *n = take(w, t.root);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const char *keep[] = {"d3"};
    size_t lens[] = {2};
    ASSERT_EQ(wa_prune(w, n, keep, lens, 1), 0);
    wa_stats s;
    wa_get_stats(w, &s);
    EXPECT_GT(s.cancelled, 0u);
    EXPECT_TRUE(wa_is_known_dir(w, (t.root + "/d3").data(), t.root.size() + 3));
    EXPECT_FALSE(wa_is_known_dir(w, (t.root + "/d1").data(), t.root.size() + 3));
    wa_release(w, n);
    wa_destroy(w);
}

TEST(Walkahead, AnyNumberOfReadersWalksTheSame)
{
    TempTree t;
    t.grow("", 4, 4, 3);
    symlink("d1", (t.root + "/d0/up").c_str());
    wa_walker *ref = make(0);
    auto want = walk_all(ref, t.root);
    wa_destroy(ref);
    ASSERT_EQ(want.size(), 1u + 4 + 16 + 64 + 256);
    for (unsigned readers : {1u, 2u, 4u, 8u}) {
        for (size_t max_dirs : {size_t(1), size_t(7), size_t(4096)}) {
            wa_walker *w = make(readers, max_dirs);
            EXPECT_EQ(walk_all(w, t.root), want) << readers << " " << max_dirs;
            wa_destroy(w);
        }
    }
}

TEST(Walkahead, RandomPruningAndReorderingMatchesNoReadAhead)
{
    TempTree t;
    t.grow("", 4, 5, 1);
    for (unsigned seed = 1; seed <= 6; seed++) {
        auto steer_with = [](unsigned s) {
            auto rng = std::make_shared<std::mt19937>(s);
            return [rng](std::vector<std::string> &dirs) {
                std::shuffle(dirs.begin(), dirs.end(), *rng);
                if (!dirs.empty() && (*rng)() % 3 == 0)
                    dirs.erase(dirs.begin() + (long)((*rng)() % dirs.size()));
                if ((*rng)() % 7 == 0)
                    dirs.push_back("not-there");
            };
        };
        wa_walker *ref = make(0);
        auto want = walk_all(ref, t.root, steer_with(seed));
        wa_destroy(ref);
        wa_walker *w = make(4, 16);
        EXPECT_EQ(walk_all(w, t.root, steer_with(seed)), want) << seed;
        wa_stats s;
        wa_get_stats(w, &s);
        wa_destroy(w);
    }
}

TEST(Walkahead, DestroyWhileReadersAreBusy)
{
    TempTree t;
    t.grow("", 4, 6, 2);
    for (int i = 0; i < 20; i++) {
        wa_walker *w = make(4, 1000);
        wa_node *n = take(w, t.root);
        std::this_thread::sleep_for(std::chrono::microseconds(200 * i));
        wa_destroy(w); // n is freed with everything else
        (void)n;
    }
}

TEST(Walkahead, SkippedDirectoriesAreLeftOut)
{
    TempTree t;
    t.dir(".snapshot");
    t.dir("keep");
    t.file("keep/.snapshot"); // a file of that name stays
    char snap[] = ".snapshot";
    char *skip[] = {snap};
    wa_options o{};
    o.readers = 1;
    o.max_bytes = 1 << 20;
    o.max_dirs = 100;
    o.skip_dirs = skip;
    o.skip_dir_count = 1;
    wa_walker *w = nullptr;
    ASSERT_EQ(wa_create(&o, &w), 0);
    wa_node *n = take(w, t.root);
    auto es = entries(n);
    ASSERT_EQ(es.size(), 1u);
    EXPECT_EQ(es[0].name, "keep");
    wa_release(w, n);
    n = take(w, t.root + "/keep");
    es = entries(n);
    ASSERT_EQ(es.size(), 1u);
    EXPECT_EQ(es[0].name, ".snapshot");
    wa_release(w, n);
    wa_destroy(w);
}

} // namespace
