/*
 * options.h -- a sink's YAML options checked against the schema its plugin
 * declares (pwalk_option_spec), before the plugin's create() runs.  The
 * checked set is what the plugin sees as `const pwalk_options *`.
 */
#ifndef PWALK_ENGINE_OPTIONS_H
#define PWALK_ENGINE_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "pwalk/plugin.h"

/* Check sink->options against plugin->options[] and bind values:
 *  - an option the plugin does not declare: "FILE:L:C: sink 'S': unknown
 *    option 'K' for plugin 'P' (known: a, b, c)";
 *  - BOOL must be true/false/yes/no/on/off (any case); INT a decimal integer
 *    inside "min..max" when given; ENUM one of "a|b|c"; STRING a scalar;
 *    STRING_LIST a sequence (a single scalar is a one-item list); each
 *    violation names the file, line, column, sink, option and value;
 *  - declared options the YAML leaves out take default_value (parsed the
 *    same way; a bad default is reported against the plugin).
 * source is the pipeline file's name for messages.  Returns 0 and *out, or
 * -1 with a one-line message in err. */
int options_bind(const pwalk_plugin *plugin, const cfg_sink *sink, const char *source,
                 pwalk_options **out, char *err, size_t errlen);

void options_free(pwalk_options *opts);

/* The getters behind pwalk_host's opt_* (same contract as in plugin.h:
 * 0 on success, -1 unknown option or wrong type, -2 declared but no value). */
int options_get_string(const pwalk_options *o, const char *name, const char **value);
int options_get_bool(const pwalk_options *o, const char *name, int *value);
int options_get_int(const pwalk_options *o, const char *name, int64_t *value);
int options_get_list_count(const pwalk_options *o, const char *name, size_t *count);
int options_get_list_item(const pwalk_options *o, const char *name, size_t index,
                          const char **value);

/* Print a plugin's description and option table for --describe. */
void options_describe(const pwalk_plugin *plugin, const char *path, FILE *out);

/* Is the plugin's option spec (one of plugin->options) a file the plugin
 * writes?  ABI 1.2 plugins say so with PWALK_OPTION_OUTPUT; for a plugin
 * built against 1.0 or 1.1, whose field was reserved, the engine keeps its
 * old guess: a string option named "path" or "log". */
int options_is_output(const pwalk_plugin *plugin, const pwalk_option_spec *spec);

#endif
