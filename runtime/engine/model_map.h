/* Read-only private mappings of model files (the .onnx file and its external
 * data files), so weights are used where they lie instead of being copied:
 * the pages stay shared with the page cache, and several processes serving
 * one model share one copy.
 *
 * A mapped file can change under us. Replacing it by rename is safe (the
 * mapping keeps the old inode). Truncating it makes reads past the new end
 * raise SIGBUS, so every mapping is registered with a process-wide SIGBUS
 * handler that replaces the whole mapping with zero pages and marks it bad:
 * the faulting read returns and the run completes with garbage, which
 * model_map_check then refuses (the caller answers with an error, never a
 * crash). A rewrite in place that keeps the size is seen by the same check
 * through the file's size and modification time (fstat, kept fd). Runs that
 * overlap a rewrite may see mixed bytes; the check after the run catches
 * those whose modification is visible by then. Reloading maps the new file.
 *
 * Ownership: model_map_open returns a map owned by the caller, freed with
 * model_map_free (which unmaps and unregisters it; nothing may read it
 * after). A map is read-only and safe to share between threads. */
#ifndef AMLSERVE_MODEL_MAP_H
#define AMLSERVE_MODEL_MAP_H

#include <stddef.h>

struct model_map;

/* Maps path whole (an empty file maps to data NULL, len 0); source names the
 * model in errors. ERR_NOTFOUND / ERR_IO naming path on failure; ERR_LIMIT
 * above max_len bytes (0: no limit). */
int model_map_open(struct model_map **out, const char *path, size_t max_len);
/* The same for a file already open (fd, always taken: closed on failure or by model_map_free). */
int model_map_open_fd(struct model_map **out, int fd, const char *path, size_t max_len);
void model_map_free(struct model_map *map);
const unsigned char *model_map_data(const struct model_map *map);
size_t model_map_len(const struct model_map *map);
const char *model_map_path(const struct model_map *map);
/* 0 while the file is as it was mapped; ERR_IO naming the file when it was
 * truncated, rewritten (size or modification time changed) or a read of the
 * mapping faulted. */
int model_map_check(const struct model_map *map);

#endif
