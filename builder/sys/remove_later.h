/* Removing a finished temporary tree (a conda stage: thousands of files) on
 * another core while the build goes on. The process waits for every removal
 * before it exits (atexit), so nothing is left behind by a build that ends
 * normally; a killed one leaves what fs_temp_dir's lock files let the next
 * run clean up. */
#ifndef AMLPKG_REMOVE_LATER_H
#define AMLPKG_REMOVE_LATER_H

/* fs_remove_tree(path) on a thread (or here and now, if no thread can start). NULL is fine. */
void fs_remove_tree_later(const char *path);
/* Waits for the removals started so far. */
void fs_removals_wait(void);

#endif
