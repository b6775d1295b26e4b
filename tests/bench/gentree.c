/*
 * gentree -- deterministic test trees for the benchmark.
 *
 *   gentree DIR ENTRIES [PER_DIR] [--huge N] [--hostile] [--seed S] [--dir-every K]
 *
 * Builds ENTRIES entries under DIR (which must not exist): directories of
 * about PER_DIR entries (default 90), with a skew (one directory in 50 gets
 * ten times as many).  Filled breadth-first, ~1 entry in 10 a subdirectory,
 * so the tree is wide like project trees -- but only until there are as many
 * directories as ENTRIES / PER_DIR allows: after that every entry is a file.
 * (Without that cap 9 in 10 directories came out empty, and a benchmark on
 * such a tree measures opening directories, not listing them.)  Files are sparse
 * (ftruncate) so a 1M-entry tree costs inodes, not disk.  --huge N adds one
 * directory "huge" with N files; --hostile gives one name in 20 a comma,
 * quote, newline, backslash or invalid UTF-8 byte.  The same arguments
 * always give the same names and sizes.  --dir-every K makes ~1 entry in K a
 * subdirectory (default 10): with a small PER_DIR, K must be small enough
 * that each directory has more than one subdirectory on average, or the
 * tree stops growing (gentree T 500000 4 --dir-every 3: ~106k directories).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t gen_state = 88172645463325252ull;

static uint64_t gen_next(void)
{
    /* xorshift64: deterministic and fast, no libc rand() differences */
    gen_state ^= gen_state << 13;
    gen_state ^= gen_state >> 7;
    gen_state ^= gen_state << 17;
    return gen_state;
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "gentree: %s '%s': %s\n", what, path, strerror(errno));
    exit(1);
}

static void gen_name(char *out, size_t cap, const char *prefix, uint64_t i, int hostile)
{
    static const char *const odd[] = {"a,b", "q\"uote", "new\nline", "back\\slash",
                                      "bad\xff\xfe", "tab\tname"};
    if (hostile && gen_next() % 20 == 0)
        snprintf(out, cap, "%s%llu-%s", prefix, (unsigned long long)i,
                 odd[gen_next() % (sizeof odd / sizeof odd[0])]);
    else
        snprintf(out, cap, "%s%llu.dat", prefix, (unsigned long long)i);
}

static void gen_file(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        die("cannot create", name);
    off_t size = (off_t)(gen_next() % 200000);
    if (size && ftruncate(fd, size) != 0)
        die("cannot size", name);
    close(fd);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long long entries = -1, per_dir = 90, huge = 0, dir_every = 10;
    int hostile = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--huge") && i + 1 < argc)
            huge = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--dir-every") && i + 1 < argc)
            dir_every = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--hostile"))
            hostile = 1;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            gen_state ^= (uint64_t)atoll(argv[++i]) * 0x9E3779B97F4A7C15ull;
        else if (!dir)
            dir = argv[i];
        else if (entries < 0)
            entries = atoll(argv[i]);
        else
            per_dir = atoll(argv[i]);
    }
    if (!dir || entries < 0 || per_dir < 2 || dir_every < 1) {
        fprintf(stderr, "usage: gentree DIR ENTRIES [PER_DIR] [--huge N] [--hostile] [--seed S] "
                        "[--dir-every K]\n");
        return 2;
    }
    if (mkdir(dir, 0755) != 0)
        die("cannot create", dir);

    /* breadth-first: a queue of directory paths (relative to the root) to
     * fill; paths, not fds, so a wide tree does not run out of fds */
    size_t cap = 1024, head = 0, tail = 0;
    char **queue = malloc(cap * sizeof *queue);
    int root = open(dir, O_RDONLY | O_DIRECTORY);
    if (!queue || root < 0)
        die("cannot open", dir);
    queue[tail++] = strdup(".");
    long long made = 0, dirs = 0;
    /* mean directory size with the skew: per_dir * (49 + 10) / 50 */
    long long max_dirs = entries * 50 / (per_dir * 59);
    char name[64];

    if (huge > 0) {
        if (mkdirat(root, "huge", 0755) != 0)
            die("cannot create", "huge");
        int h = openat(root, "huge", O_RDONLY | O_DIRECTORY);
        for (long long i = 0; i < huge; i++) {
            gen_name(name, sizeof name, "h", (uint64_t)i, hostile);
            gen_file(h, name);
        }
        close(h);
        made += huge + 1;
    }
    while (made < entries && head < tail) {
        char *rel = queue[head++];
        int dfd = openat(root, rel, O_RDONLY | O_DIRECTORY);
        if (dfd < 0)
            die("cannot open", rel);
        long long n = per_dir;
        if (gen_next() % 50 == 0)
            n *= 10; /* skew */
        for (long long i = 0; i < n && made < entries; i++, made++) {
            if (gen_next() % (uint64_t)dir_every == 0 && dirs < max_dirs) {
                snprintf(name, sizeof name, "d%lld", dirs++);
                if (mkdirat(dfd, name, 0755) != 0)
                    die("cannot create", name);
                if (tail == cap) {
                    /* compact first: the consumed head is dead weight */
                    memmove(queue, queue + head, (tail - head) * sizeof *queue);
                    tail -= head;
                    head = 0;
                    if (tail == cap) {
                        cap *= 2;
                        queue = realloc(queue, cap * sizeof *queue);
                        if (!queue)
                            die("out of memory", dir);
                    }
                }
                char *sub;
                if (asprintf(&sub, "%s/%s", rel, name) < 0)
                    die("out of memory", dir);
                queue[tail++] = sub;
            } else {
                gen_name(name, sizeof name, "f", (uint64_t)i, hostile);
                gen_file(dfd, name);
            }
        }
        close(dfd);
        free(rel);
    }
    while (head < tail)
        free(queue[head++]);
    close(root);
    free(queue);
    printf("%lld entries, %lld directories\n", made, dirs);
    return 0;
}
