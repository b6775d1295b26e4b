/* Wrong way: a driver including a private header of the library although
 * it depends only on //engine:pwalk.  Bazel would compile this (a target
 * may include any header of its transitive deps), so no target builds it:
 * //tests/layering:include_test finds it and must flag it. */
#include "engine/walk.h"
#include "pwalk/pwalk.h"

int layering_probe_driver_header(void);
int layering_probe_driver_header(void) { return 0; }
