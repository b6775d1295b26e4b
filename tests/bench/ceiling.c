/*
 * ceiling -- the benchmark's baseline: the least work that produces a
 * pwalk-like row per entry.  N threads share a stack of directory paths;
 * each opens a directory, reads it with getdents64, fstatat()s every name
 * relative to the directory fd and appends one CSV-like line (inode, size,
 * mode, mtime, path) to a 1 MiB per-thread buffer written with write().
 * No escaping, no filters, no error records: a ceiling, not a tool.
 *
 *   ceiling THREADS ROOT OUTPUT
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct dent {
    unsigned long long ino;
    long long off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char **stack;
static size_t depth, cap, busy;
static int out_fd;
static unsigned long long rows;

static void push(char *p)
{
    pthread_mutex_lock(&lock);
    if (depth == cap) {
        cap = cap ? cap * 2 : 1024;
        stack = realloc(stack, cap * sizeof *stack);
    }
    stack[depth++] = p;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static char *pop(void)
{
    pthread_mutex_lock(&lock);
    busy--;
    while (depth == 0 && busy > 0)
        pthread_cond_wait(&cond, &lock);
    char *p = NULL;
    if (depth) {
        p = stack[--depth];
        busy++;
    } else {
        pthread_cond_broadcast(&cond);
    }
    pthread_mutex_unlock(&lock);
    return p;
}

static char *fmt_u(char *o, unsigned long long v)
{
    char t[24];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while (v /= 10);
    while (n)
        *o++ = t[--n];
    return o;
}

static void *worker(void *arg)
{
    (void)arg;
    char *buf = malloc(1 << 20), *dents = malloc(1 << 17);
    size_t used = 0;
    unsigned long long mine = 0;
    char *dir;
    while ((dir = pop()) != NULL) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        size_t dlen = strlen(dir);
        long n;
        while (fd >= 0 && (n = syscall(SYS_getdents64, fd, dents, 1 << 17)) > 0) {
            for (long off = 0; off < n;) {
                struct dent *d = (struct dent *)(dents + off);
                off += d->reclen;
                if (d->name[0] == '.' && (!d->name[1] || (d->name[1] == '.' && !d->name[2])))
                    continue;
                struct stat st;
                if (fstatat(fd, d->name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                    continue;
                size_t nlen = strlen(d->name);
                if (used + dlen + nlen + 128 > (1 << 20)) {
                    if (write(out_fd, buf, used) < 0)
                        exit(3);
                    used = 0;
                }
                char *o = buf + used;
                o = fmt_u(o, st.st_ino);
                *o++ = ',';
                o = fmt_u(o, (unsigned long long)st.st_size);
                *o++ = ',';
                o = fmt_u(o, st.st_mode);
                *o++ = ',';
                o = fmt_u(o, (unsigned long long)st.st_mtime);
                *o++ = ',';
                memcpy(o, dir, dlen);
                o += dlen;
                *o++ = '/';
                memcpy(o, d->name, nlen);
                o += nlen;
                *o++ = '\n';
                used = (size_t)(o - buf);
                mine++;
                if (S_ISDIR(st.st_mode)) {
                    char *sub = malloc(dlen + nlen + 2);
                    memcpy(sub, dir, dlen);
                    sub[dlen] = '/';
                    memcpy(sub + dlen + 1, d->name, nlen + 1);
                    push(sub);
                }
            }
        }
        if (fd >= 0)
            close(fd);
        free(dir);
    }
    if (used && write(out_fd, buf, used) < 0)
        exit(3);
    __atomic_add_fetch(&rows, mine, __ATOMIC_RELAXED);
    free(buf);
    free(dents);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ceiling THREADS ROOT OUTPUT\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    out_fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (threads < 1 || out_fd < 0) {
        perror("ceiling");
        return 2;
    }
    busy = (size_t)threads;
    push(strdup(argv[2]));
    pthread_t t[256];
    for (int i = 0; i < threads && i < 256; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads && i < 256; i++)
        pthread_join(t[i], NULL);
    close(out_fd);
    printf("%llu rows\n", rows);
    return 0;
}
