/* What a base image offers the packages locked against it, as conda's virtual
 * packages describe a machine:
 *   glibc    the version string glibc carries in its own library ("GNU C
 *            Library ... release version 2.36."), read from the top-most layer
 *            holding lib/, lib64/, usr/lib/ or usr/lib64/ [<triplet>/]
 *            libc.so.6 or libc-X.Y.so as a regular file (the symlinked names
 *            of older glibc lead to libc-X.Y.so, which is read instead);
 *            "" when the image has none (musl, distroless-static, scratch)
 *   cuda     MAJOR.MINOR of the config's CUDA_VERSION (NVIDIA's CUDA images
 *            set it), "" without
 *   arch     conda's name of the image's architecture (x86_64, aarch64, ...)
 * The kernel (__linux) is the one of the machine the container runs on, which
 * no image says: the caller keeps its default. */
#ifndef AMLPKG_BASE_PROBE_H
#define AMLPKG_BASE_PROBE_H

#include <stddef.h>

struct base_probe {
    char glibc[32];
    char cuda[32];
    char arch[32];
};

/* Finds the first "release version X.Y" in data (glibc's banner): X.Y into out, 0; 1 when absent. */
int base_probe_glibc_banner(char *out, size_t size, const char *data, size_t len);
/* base: as environment.base_image writes it (spec_dir resolves relative paths); context names it in
 * messages. */
int base_probe(struct base_probe *out, const char *base, const char *spec_dir, const char *context);

#endif
