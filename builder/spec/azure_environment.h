/* Azure ML environment definitions, as `Environment.save_to_directory` writes
 * them (azureml_environment.json, conda_dependencies.yml, BaseDockerfile) or
 * inline under inferenceconfig.json's `environment`, read into the spec's
 * environment: docker.baseImage (or the FROM of a base Dockerfile, whose other
 * lines become Docker steps), python.condaDependencies (or the folder's
 * conda_dependencies.yml), userManagedDependencies, interpreterPath and
 * environmentVariables. Errors name the file, line and Azure's key. */
#ifndef AMLPKG_AZURE_ENVIRONMENT_H
#define AMLPKG_AZURE_ENVIRONMENT_H

#include "builder/spec/spec.h"
#include "builder/spec/yaml_tree.h"

/* def: the definition's mapping in t; dir: where its companion files are (NULL for none). */
int azure_environment_read(struct spec_environment *e, struct yaml_tree *t, yaml_node_t *def, const char *dir);
/* Helpers both Azure readers share. Azure writes every unset key as null: azure_get
 * treats null, ~ and nothing alike as absent. azure_image_ref reads an image reference
 * (no blanks or control characters) into *out (malloc'd). */
yaml_node_t *azure_get(struct yaml_tree *t, yaml_node_t *map, const char *key);
int azure_image_ref(struct yaml_tree *t, yaml_node_t *node, const char *field, char **out);

/* DIR/azureml_environment.json and its companions. */
int azure_environment_load_dir(struct spec_environment *e, const char *dir);

#endif
