/* Finding ONNX model files in a model directory, the way amlserve does at
 * start-up and the builder does when it validates a package: recursively, in
 * byte order, skipping hidden entries. Returned paths are malloc'd; free them
 * with model_files_free. */
#ifndef AMLSERVE_MODEL_FILES_H
#define AMLSERVE_MODEL_FILES_H

#include <stddef.h>

/* path may be a single file (returned when it ends in .onnx) or a directory. */
int model_files_find_onnx(char ***out_paths, size_t *out_count, const char *path);
void model_files_free(char **paths, size_t count);

#endif
