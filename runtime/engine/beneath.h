/* Opening model files without leaving the model's folder or hanging on them.
 *
 * A model folder comes from users and from caches full of links (DVC,
 * git-annex, amlpkg serve's own layout). The model file itself may be a link:
 * its resolved folder is the root its external data is read from. Below that
 * root every open stays beneath it (openat2 RESOLVE_BENEATH where the kernel
 * has it; without it, each component opened O_NOFOLLOW, so no link is
 * followed at all), is non-blocking (a FIFO cannot stall start-up or a reload)
 * and must reach a regular file. The caller owns the returned descriptor. */
#ifndef AMLSERVE_ENGINE_BENEATH_H
#define AMLSERVE_ENGINE_BENEATH_H

/* Opens root/rel read-only; rel is relative, without "..". Returns 0 with
 * *fd set, else an ERR_* code with a message naming what (e.g. "external
 * data"), rel and why (outside the folder, a link, not a regular file). */
int beneath_open(int *fd, const char *root, const char *rel, const char *what);
/* Opens a model file (following links: the walk chose it) non-blocking, and
 * refuses what is not a regular file. */
int beneath_open_model(int *fd, const char *path);

#endif
