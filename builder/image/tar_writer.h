/* A small deterministic tar writer for the image archives amlpkg outputs
 * (oci-archive, docker-archive): regular files and directories with short
 * names, uid/gid 0, fixed modes and one mtime. Layers are written by
 * oci_layer.c (libarchive: long names, links, compression); the outer archive
 * needs none of that, and writing it here keeps libarchive off the path of a
 * rebuild whose layers all come from the cache.
 *
 * Blob bodies are copied inside the kernel (copy_file_range) where it can.
 * Headers are ustar; a size of 8 GiB or more uses the base-256 size field
 * that GNU tar, Go's archive/tar and libarchive all read. */
#ifndef AMLPKG_TAR_WRITER_H
#define AMLPKG_TAR_WRITER_H

#include <stdint.h>
#include <sys/types.h>

#define TAR_BLOCK 512

struct tar_writer {
    int fd;
    off_t offset; /* where the next header goes */
    long long mtime;
    const char *target; /* named in error messages */
};

/* Fills a 512-byte header for a regular file ('0') or directory ('5'). */
int tar_header(unsigned char block[TAR_BLOCK], const char *name, char type, int64_t size, long long mtime);
int tar_put_dir(struct tar_writer *t, const char *name);
int tar_put_bytes(struct tar_writer *t, const char *name, const void *data, size_t len);
/* The entry name with size bytes of src_fd from src_offset as its body. */
int tar_put_file_range(struct tar_writer *t, const char *name, int src_fd, off_t src_offset, int64_t size);
/* Moves past a body of size bytes already in the file at t->offset + TAR_BLOCK,
 * writing its header in front of it and zero padding after it. */
int tar_put_in_place(struct tar_writer *t, const char *name, int64_t size);
/* The two zero blocks that end an archive. */
int tar_finish(struct tar_writer *t);
/* Ends the archive written at tmp_path (tar_finish, cut to length, flushed to the disk with sync),
 * closes t->fd and renames tmp_path over t->target: the target is whole or untouched. what names
 * the file in the rename error ("the finished file", "the signed archive"). */
int tar_commit(struct tar_writer *t, const char *tmp_path, int sync, const char *what);

#endif
