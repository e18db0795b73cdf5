/* File-system helpers for writing outputs safely.
 *
 * Outputs are never written in place: they go to a temporary file in the
 * target's own directory and are renamed over the target only when complete,
 * so an interrupted or failed build leaves nothing half-written. Strings
 * returned through **out are malloc'd and owned by the caller. */
#ifndef AMLPKG_FSUTIL_H
#define AMLPKG_FSUTIL_H

#include <stdio.h>

/* Directory part of path ("." when there is none). */
char *fs_dirname(const char *path);
/* Resolves path relative to base_dir unless it is absolute (path_join's rule, common/path.h). */
char *fs_resolve(const char *base_dir, const char *path);
/* Creates a private temporary directory "<prefix>XXXXXX" inside parent, with
 * a lock file "<...>.lock" beside it held until this process exits; first
 * removes the folders in parent whose owner died without removing them
 * (SIGKILL, a crash). fs_remove_tree removes the lock file with the folder. */
int fs_make_temp_dir(char **out, const char *parent, const char *prefix);
/* fs_make_temp_dir in $TMPDIR, else /tmp. */
int fs_make_tmp_dir(char **out, const char *prefix);
/* A temporary folder renamed into place: its lock file is removed (it is no longer temporary). */
void fs_temp_dir_forget(const char *path);
/* Removes a directory tree (best effort, for cleanup). */
void fs_remove_tree(const char *path);
/* Opens "<target>.tmp-XXXXXX" beside target for writing. */
int fs_temp_beside(FILE **out_file, char **out_path, const char *target);
/* fsyncs and closes f, then renames tmp_path to target. On failure removes tmp_path. */
int fs_commit(FILE *f, const char *tmp_path, const char *target);
/* Renames tmp_path to target. A regular file already at target is swapped
 * out (RENAME_EXCHANGE) and then removed, rather than renamed over: ext4
 * writes out a file renamed over another at once (auto_da_alloc), which for
 * a gigabyte image costs a second. target is never missing or partial either
 * way; callers that need the bytes on disk fsync first. */
int fs_replace(const char *tmp_path, const char *target);
/* The same with the fsync only when sync is set: for outputs, which must be
 * complete or absent but need not survive a power cut unless asked (--fsync). */
int fs_publish(FILE *f, const char *tmp_path, const char *target, int sync);
/* 1 when the directory has no entries, 0 when it has some, <0 on error. */
int fs_dir_is_empty(const char *path);
/* Writes all of data to fd, retrying short writes and EINTR. 0, or -1 with
 * errno set: ENOSPC when the kernel took no bytes and said nothing (a full
 * disk), so the message never reads "Success". Report with err_set_write. */
int fs_write_all(int fd, const void *data, size_t len);
/* Copies a whole file into an open stream. */
int fs_copy_into(FILE *dst, const char *src_path);
/* Archive member paths, judged lexically. fs_path_depth: depth after walking
 * p[0..len) from depth ("a/b" adds 2, ".." takes one, "." and empty parts
 * none); sets *escaped when it goes above the start. */
int fs_path_depth(const char *p, size_t len, int depth, int *escaped);
/* 1 when a component of p is "..". */
int fs_path_has_dotdot(const char *p);
/* Creates the directories above rel (a relative path without "..") inside root, one component at a
 * time, and refuses one that exists as anything but a directory, a symbolic link included: what is
 * written there next cannot land outside root. what names the source in messages. */
int fs_make_parents_inside(const char *root, const char *rel, const char *what);

#endif
