/* Readers for the spec's `inference` and `service` sections, called by
 * spec_load with the section's node. They fill spec->inference and
 * spec->service (owned by the spec, released by spec_sections_release). */
#ifndef AMLPKG_SPEC_SECTIONS_H
#define AMLPKG_SPEC_SECTIONS_H

#include "spec.h"
#include "yaml_tree.h"

int spec_read_inference(struct spec *spec, struct yaml_tree *t, yaml_node_t *node);
int spec_read_service(struct spec *spec, struct yaml_tree *t, yaml_node_t *node);
void spec_sections_release(struct spec *spec);

#endif
