/* Which wheels an environment can install (PEP 425 compatibility tags, PEP 600 manylinux), and which it
 * prefers: the order pip (packaging.tags.sys_tags) gives CPython on glibc Linux.
 *
 * For CPython X.Y on glibc 2.M and architecture ARCH, in order of preference:
 *   cpXY-cpXY-P, cpXY-abi3-P, cpXY-none-P, cpX(Y-1)-abi3-P ... cp32-abi3-P,
 *   pyXY-none-P, pyX-none-P, pyX(Y-1)-none-P ... pyX0-none-P,
 *   cpXY-none-any, pyXY-none-any, pyX-none-any, pyX(Y-1)-none-any ... pyX0-none-any,
 * where P runs through manylinux_2_M_ARCH down to manylinux_2_5_ARCH, each legacy alias beside its
 * equal (manylinux2014 = 2_17, manylinux2010 = 2_12, manylinux1 = 2_5; the last two x86_64/i686 only).
 *
 * linux_ARCH wheels are NOT accepted, unlike pip on the build machine: they promise nothing about the
 * libraries they link (they are what `pip wheel` builds for the machine it runs on), so a lock taking
 * one could break in the image. musllinux, macOS and Windows wheels do not match either.
 *
 * Ownership: value types only. */
#ifndef AMLPKG_WHEEL_TAGS_H
#define AMLPKG_WHEEL_TAGS_H

#include "builder/spec/pep440.h"
#include "builder/spec/pep508.h"

#define WHEEL_TAG_MAX 256

struct wheel_target {
    int py_major, py_minor;       /* the environment's CPython: 3, 11 */
    int glibc_major, glibc_minor; /* the base's glibc: 2, 35 */
    char arch[32];                /* "x86_64", "aarch64" */
};

struct wheel_filename {
    char name[PEP508_MAX_NAME]; /* normalised */
    struct pep440_version version;
    char version_text[PEP440_MAX_TEXT];
    char build[32]; /* build tag, "" when none */
    char py[WHEEL_TAG_MAX], abi[WHEEL_TAG_MAX], plat[WHEEL_TAG_MAX]; /* possibly compressed: "py2.py3" */
};

/* "name-1.0(-build)?-py-abi-plat.whl"; ERR_INVALID with *why when it is not a wheel's name. */
int wheel_filename_parse(struct wheel_filename *out, const char *filename, const char **why);
/* The preference of the wheel's best tag for t: 0 is the best; -1 when no tag of it can be installed. */
long wheel_tags_rank(const struct wheel_target *t, const struct wheel_filename *w);

#endif
