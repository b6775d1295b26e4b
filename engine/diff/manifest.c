/*
 * manifest.c -- reading an MPI manifest; see manifest.h.
 */
#define _GNU_SOURCE
#include "manifest.h"

#include "common/grow.h"
#include "common/lossless.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The value of key in mapping node, or NULL. */
static yaml_node_t *dman_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *dman_scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A path's bytes from the manifest's lossless text. */
static int dman_add_path(dman *m, size_t *cap, const char *text)
{
    size_t len = strlen(text);
    char *p = malloc(len + 1);
    long n = p ? lossless_unescape(text, len, p, LOSSLESS_BARE) : -1;
    if (n < 0 || grow_array((void **)&m->shards, cap, m->shard_count + 1, sizeof(char *))) {
        free(p);
        return -1;
    }
    p[n] = '\0';
    m->shards[m->shard_count++] = p;
    return 0;
}

/* The first sink written by a csv* plugin. */
static yaml_node_t *dman_csv_sink(yaml_document_t *d, yaml_node_t *root)
{
    yaml_node_t *sinks = dman_get(d, root, "sinks");
    if (!sinks || sinks->type != YAML_SEQUENCE_NODE)
        return NULL;
    for (yaml_node_item_t *i = sinks->data.sequence.items.start;
         i < sinks->data.sequence.items.top; i++) {
        yaml_node_t *sink = yaml_document_get_node(d, *i);
        const char *plugin = dman_scalar(dman_get(d, sink, "plugin"));
        if (plugin && strncmp(plugin, "csv", 3) == 0)
            return sink;
    }
    return NULL;
}

static int dman_walk(yaml_document_t *d, dman *m, const char **why)
{
    yaml_node_t *root = yaml_document_get_root_node(d);
    const char *format = dman_scalar(dman_get(d, root, "format"));
    const char *complete = dman_scalar(dman_get(d, root, "complete"));
    if (!format || strcmp(format, "pwalk-shards") != 0)
        return *why = "not a pwalk-mpi manifest (no \"format\": \"pwalk-shards\")", -1;
    if (!complete || strcmp(complete, "true") != 0)
        return *why = "the manifest does not say \"complete\": true", -1;
    const char *started = dman_scalar(dman_get(d, root, "started"));
    if (started) {
        char *end;
        m->started = strtoll(started, &end, 10);
        m->has_started = *started && !*end;
    }
    yaml_node_t *sink = dman_csv_sink(d, root);
    yaml_node_t *shards = dman_get(d, sink, "shards");
    if (!shards || shards->type != YAML_SEQUENCE_NODE)
        return *why = "no csv sink with shards in the manifest", -1;
    size_t cap = 0;
    for (yaml_node_item_t *i = shards->data.sequence.items.start;
         i < shards->data.sequence.items.top; i++) {
        const char *path = dman_scalar(dman_get(d, yaml_document_get_node(d, *i), "path"));
        if (!path)
            return *why = "a shard without a \"path\"", -1;
        if (dman_add_path(m, &cap, path) != 0)
            return *why = "a shard path that is not lossless text", -1;
    }
    if (!m->shard_count)
        return *why = "the csv sink lists no shards", -1;
    return 0;
}

int dman_read(const char *path, dman *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t p;
    yaml_document_t d;
    int rc = -1;
    const char *why = "out of memory";
    if (yaml_parser_initialize(&p)) {
        yaml_parser_set_input_file(&p, f);
        if (!yaml_parser_load(&p, &d)) {
            snprintf(err, errlen, "%s: not valid JSON (line %zu): %s", path,
                     p.problem_mark.line + 1, p.problem ? p.problem : "?");
            why = NULL;
        } else {
            rc = dman_walk(&d, m, &why);
            yaml_document_delete(&d);
        }
        yaml_parser_delete(&p);
    }
    fclose(f);
    if (rc != 0) {
        if (why)
            snprintf(err, errlen, "%s: %s", path, why);
        dman_free(m);
    }
    return rc;
}

void dman_free(dman *m)
{
    for (size_t i = 0; i < m->shard_count; i++)
        free(m->shards[i]);
    free(m->shards);
    memset(m, 0, sizeof *m);
}
