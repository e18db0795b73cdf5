/* Readers for the spec's `inference` and `service` sections, called by
 * spec_load with the section's node. They fill spec->inference and
 * spec->service (owned by the spec, released by spec_sections_release). */
#ifndef AMLPKG_SPEC_SECTIONS_H
#define AMLPKG_SPEC_SECTIONS_H

#include "builder/spec/spec.h"
#include "builder/spec/yaml_tree.h"

int spec_read_inference(struct spec *spec, struct yaml_tree *t, yaml_node_t *node);
int spec_read_service(struct spec *spec, struct yaml_tree *t, yaml_node_t *node);
void spec_sections_release(struct spec *spec);
/* A path field resolved against base_dir that must exist as a directory (want_dir) or a regular
 * file; errors name t's file, the node's line and field. *out is malloc'd. */
int spec_existing_path(struct yaml_tree *t, yaml_node_t *node, const char *field, const char *base_dir, int want_dir,
                       char **out);

#endif
