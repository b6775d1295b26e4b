/* genreport: a pair of synthetic pwalk reports (.csv.zst, lossless, with a
 * header) for pwalk-diff's scale test and benchmark, and what diffing them
 * must give, derived from how they were made (not from pwalk-diff).
 *
 *     genreport OLD.csv.zst NEW.csv.zst ROWS [ROOT]
 *
 * OLD: the root ROOT (default /scale), DIRS directories ROOT/dNNNN and
 * ROWS - DIRS - 1 files in them, with paths of about 80 bytes (so that the
 * paths alone of one scan take more memory than the scale test allows).
 * NEW: the same scan after, by file index i mod 100: 0 removed, 1 grown
 * (size + 1000 + i % 500, new mtime), 2 renamed into the next directory,
 * 3 chmod 0600 (mode only), 4 chowned to uid 2000 (in by_user the old uid
 * loses the file, uid 2000 gains it; no change in the totals and groups);
 * plus ROWS/100 new files.  Rows are written in
 * a scrambled order (a different one in each file).  Prints one JSON object
 * on stdout: the expected change counts, totals, per-uid and per-gid net
 * figures, and the uncompressed size and path bytes of each report. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define GR_DIRS 5000
#define GR_UIDS 7
#define GR_GIDS 3
#define GR_DEV 2049
#define GR_T0 1600000000LL

typedef struct {
    FILE *f;
    ZSTD_CCtx *cc;
    char in[1 << 20];
    size_t used;
    char out[1 << 20];
    uint64_t raw_bytes, path_bytes;
    const char *name;
} gr_out;

typedef struct {
    int64_t files_added, files_removed, bytes_added, bytes_removed;
} gr_net;

typedef struct {
    uint64_t added, removed, modified, renamed;
    gr_net total, uid[GR_UIDS + 1], gid[GR_GIDS];
} gr_expect;

static void gr_die(const char *what, const char *name)
{
    fprintf(stderr, "genreport: %s: %s\n", name, what);
    exit(2);
}

static void gr_flush(gr_out *o, ZSTD_EndDirective end)
{
    ZSTD_inBuffer in = {o->in, o->used, 0};
    for (;;) {
        ZSTD_outBuffer out = {o->out, sizeof o->out, 0};
        size_t left = ZSTD_compressStream2(o->cc, &out, &in, end);
        if (ZSTD_isError(left))
            gr_die(ZSTD_getErrorName(left), o->name);
        if (out.pos && fwrite(o->out, 1, out.pos, o->f) != out.pos)
            gr_die("write failed", o->name);
        if (end == ZSTD_e_end ? left == 0 : in.pos == in.size)
            break;
    }
    o->used = 0;
}

static void gr_open(gr_out *o, const char *name)
{
    memset(o, 0, sizeof *o);
    o->name = name;
    o->f = fopen(name, "wb");
    o->cc = ZSTD_createCCtx();
    if (!o->f || !o->cc)
        gr_die("cannot create", name);
    ZSTD_CCtx_setParameter(o->cc, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(o->cc, ZSTD_c_nbWorkers, 1); /* overlaps with row formatting */
    static const char header[] =
        "inode,parent-inode,directory-depth,\"filename\",\"fileExtension\",UID,GID,st_size,"
        "st_dev,st_blocks,st_nlink,\"st_mode\",st_atime,st_mtime,st_ctime,pw_fcount,pw_dirsum\n";
    memcpy(o->in, header, sizeof header - 1);
    o->used = sizeof header - 1;
    o->raw_bytes = o->used;
}

static void gr_close(gr_out *o)
{
    gr_flush(o, ZSTD_e_end);
    if (fclose(o->f) != 0)
        gr_die("close failed", o->name);
    ZSTD_freeCCtx(o->cc);
}

/* One row; path is the full path (no byte needs escaping here). */
static void gr_row(gr_out *o, uint64_t ino, uint64_t parent, int depth, const char *path,
                   int is_dir, unsigned uid, unsigned gid, int64_t size, unsigned mode,
                   int64_t mtime)
{
    if (o->used > sizeof o->in - 512)
        gr_flush(o, ZSTD_e_continue);
    int n = snprintf(o->in + o->used, 512,
                     "%" PRIu64 ",%" PRIu64 ",%d,\"%s\",\"%s\",%u,%u,%" PRId64 ",%d,%" PRId64
                     ",1,\"%07o\",%" PRId64 ",%" PRId64 ",%" PRId64 ",%d,%d\n",
                     ino, parent, depth, path, is_dir ? "" : "dat", uid, gid, size, GR_DEV,
                     (size + 511) / 512, mode, mtime, mtime, mtime, is_dir ? 1000 : -1, 0);
    o->used += (size_t)n;
    o->raw_bytes += (uint64_t)n;
    o->path_bytes += strlen(path);
}

/* A file's old attributes, from its index alone. */
static int64_t gr_size(uint64_t i) { return (int64_t)((i * 2654435761u) % 100000u); }
static unsigned gr_uid(uint64_t i) { return 1000 + (unsigned)(i % GR_UIDS); }
static unsigned gr_gid(uint64_t i) { return 100 + (unsigned)(i % GR_GIDS); }

static void gr_file_path(char *buf, size_t len, const char *root, uint64_t i, int renamed)
{
    uint64_t dir = (i + (renamed ? 1 : 0)) % GR_DIRS;
    snprintf(buf, len, "%s/d%04" PRIu64 "/%s-file-with-a-longish-name-%010" PRIu64 ".dat", root,
             dir, renamed ? "moved" : "data", i);
}

static void gr_add(gr_net *n, int64_t files, int64_t bytes)
{
    if (files > 0) n->files_added += files; else n->files_removed -= files;
    if (bytes > 0) n->bytes_added += bytes; else n->bytes_removed -= bytes;
}

/* Account a change of one file (+files/+bytes gained by uid/gid). */
static void gr_count(gr_expect *e, unsigned uid, unsigned gid, int64_t files, int64_t bytes)
{
    gr_add(&e->total, files, bytes);
    gr_add(&e->uid[uid == 2000 ? GR_UIDS : uid - 1000], files, bytes);
    gr_add(&e->gid[gid - 100], files, bytes);
}

/* Emit row r (0 root, 1..GR_DIRS dirs, then files, then added files) of
 * the old (is_new 0) or new scan. */
static void gr_emit(gr_out *o, const char *root, uint64_t r, uint64_t files, int is_new,
                    gr_expect *e)
{
    char path[256];
    if (r == 0) {
        gr_row(o, 2, 0, -1, root, 1, 0, 0, 4096, 040755, GR_T0);
        return;
    }
    if (r <= GR_DIRS) {
        snprintf(path, sizeof path, "%s/d%04" PRIu64, root, r - 1);
        gr_row(o, 10 + r, 2, 0, path, 1, 0, 0, 4096, 040755, GR_T0);
        return;
    }
    uint64_t i = r - GR_DIRS - 1;
    if (i >= files) { /* an added file (new only) */
        gr_file_path(path, sizeof path, root, i, 0);
        int64_t size = gr_size(i);
        gr_row(o, 100000 + i, 11 + i % GR_DIRS, 1, path, 0, gr_uid(i), gr_gid(i), size, 0100644,
               GR_T0 + 500);
        e->added++;
        gr_count(e, gr_uid(i), gr_gid(i), 1, size);
        return;
    }
    unsigned k = is_new ? (unsigned)(i % 100) : 100, uid = gr_uid(i), mode = 0100644;
    int64_t size = gr_size(i), mtime = GR_T0 + (int64_t)(i % 1000);
    if (k == 0) {
        e->removed++;
        gr_count(e, uid, gr_gid(i), -1, -size);
        return;
    }
    if (k == 1) {
        int64_t d = 1000 + (int64_t)(i % 500);
        size += d, mtime += 100, e->modified++;
        gr_count(e, uid, gr_gid(i), 0, d);
    } else if (k == 3) {
        mode = 0100600, e->modified++;
        gr_count(e, uid, gr_gid(i), 0, 0);
    } else if (k == 4) { /* by_user only: the totals and the group see no change */
        uid = 2000, e->modified++;
        gr_add(&e->uid[gr_uid(i) - 1000], -1, -size);
        gr_add(&e->uid[GR_UIDS], 1, size);
    } else if (k == 2) {
        e->renamed++;
        gr_count(e, uid, gr_gid(i), 0, 0);
    }
    gr_file_path(path, sizeof path, root, i, k == 2);
    gr_row(o, 100000 + i, 11 + (i + (k == 2)) % GR_DIRS, 1, path, 0, uid, gr_gid(i), size, mode,
           mtime);
}

static uint64_t gr_gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

/* Rows 0..n-1 in the order (j * step) mod n: a permutation when gcd(step, n) == 1. */
static void gr_write(gr_out *o, const char *root, uint64_t n, uint64_t files, int is_new,
                     uint64_t step, gr_expect *e)
{
    while (gr_gcd(step, n) != 1)
        step++;
    for (uint64_t j = 0; j < n; j++)
        gr_emit(o, root, (j * step) % n, files, is_new, e);
}

static void gr_print_net(const char *key, const gr_net *n)
{
    printf("\"%s\": {\"files_added\": %" PRId64 ", \"files_removed\": %" PRId64
           ", \"bytes_added\": %" PRId64 ", \"bytes_removed\": %" PRId64 "}",
           key, n->files_added, n->files_removed, n->bytes_added, n->bytes_removed);
}

static void gr_print(const gr_expect *e, const gr_out *o, const gr_out *n)
{
    printf("{\"changes\": {\"added\": %" PRIu64 ", \"removed\": %" PRIu64 ", \"modified\": %"
           PRIu64 ", \"renamed\": %" PRIu64 "},\n ", e->added, e->removed, e->modified,
           e->renamed);
    gr_print_net("totals", &e->total);
    printf(",\n \"by_uid\": {");
    for (int u = 0; u <= GR_UIDS; u++) {
        char key[16];
        snprintf(key, sizeof key, "%d", u == GR_UIDS ? 2000 : 1000 + u);
        printf(u ? ", " : "");
        gr_print_net(key, &e->uid[u]);
    }
    printf("},\n \"by_gid\": {");
    for (int g = 0; g < GR_GIDS; g++) {
        char key[16];
        snprintf(key, sizeof key, "%d", 100 + g);
        printf(g ? ", " : "");
        gr_print_net(key, &e->gid[g]);
    }
    printf("},\n \"old\": {\"raw_bytes\": %" PRIu64 ", \"path_bytes\": %" PRIu64
           "},\n \"new\": {\"raw_bytes\": %" PRIu64 ", \"path_bytes\": %" PRIu64 "}}\n",
           o->raw_bytes, o->path_bytes, n->raw_bytes, n->path_bytes);
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: genreport OLD.csv.zst NEW.csv.zst ROWS [ROOT]\n");
        return 2;
    }
    uint64_t rows = strtoull(argv[3], NULL, 10);
    const char *root = argc > 4 ? argv[4] : "/scale";
    if (rows < GR_DIRS + 101)
        gr_die("ROWS too small", argv[3]);
    uint64_t files = rows - GR_DIRS - 1, added = files / 100;
    static gr_out old, new_;
    static gr_expect e, ignored;
    gr_open(&old, argv[1]);
    gr_write(&old, root, rows, files, 0, 1000003, &ignored);
    gr_close(&old);
    gr_open(&new_, argv[2]);
    /* new: the old rows (removed ones skipped) and the added files */
    gr_write(&new_, root, rows + added, files, 1, 999983, &e);
    gr_close(&new_);
    gr_print(&e, &old, &new_);
    return 0;
}
