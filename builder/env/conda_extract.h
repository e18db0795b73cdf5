/* Unpacking one conda package with libarchive (lazily loaded, builder/sys):
 *   .conda    a zip holding info-*.tar.zst (info/) and pkg-*.tar.zst (the
 *             files); each inner tarball is read straight from the zip entry
 *   .tar.bz2  one bzip2 tarball with info/ beside the files
 * Both end up as the same tree in dir: info/ and the package's files.
 *
 * Nothing is written outside dir: absolute names, "..", writing through a
 * symbolic link, hard links leaving the package and device files are refused,
 * naming the package and the entry. */
#ifndef AMLPKG_CONDA_EXTRACT_H
#define AMLPKG_CONDA_EXTRACT_H

/* path: the package file; filename: its name in the channel (decides the format); dir: an existing,
 * empty directory; what: the package as messages name it ("numpy-1.26.4-py311_0.conda"). */
int conda_extract(const char *path, const char *filename, const char *dir, const char *what);

#endif
