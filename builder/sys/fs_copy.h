/* Copying files and trees into a build context (the Dockerfile output).
 * Data moves with copy_file_range, so the kernel does the work (and shares
 * extents on file systems that can); modes are kept, symbolic links are
 * copied as links, and special files are refused. */
#ifndef AMLPKG_FS_COPY_H
#define AMLPKG_FS_COPY_H

/* Creates every missing directory of path (mode 0755). */
int fs_make_dirs(const char *path);
/* Copies a regular file, keeping its permission bits. dst must not exist. */
int fs_copy_file(const char *src, const char *dst);
/* Copies a file or a whole tree to dst (which must not exist). */
int fs_copy_tree(const char *src, const char *dst);

#endif
