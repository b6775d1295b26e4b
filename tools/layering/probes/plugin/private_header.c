/* Wrong way: a plugin including a private header of the library.  Its
 * target has no dependency on //engine (none is visible to it), so Bazel
 * gives the compile no engine/walk.h. */
#include "engine/walk.h"
#include "pwalk/plugin.h"

int layering_probe_private_header(void);
int layering_probe_private_header(void) { return (int)sizeof(walk_options); }
