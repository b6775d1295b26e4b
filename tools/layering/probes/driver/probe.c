/* A layering probe: the build of its target is what is checked, not this
 * code (tools/layering/BUILD). */
int layering_probe_driver(void);
int layering_probe_driver(void) { return 0; }
