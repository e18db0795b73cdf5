/* What version control says about a directory: the commit checked out and
 * where the repository came from, for org.opencontainers.image.revision and
 * .source labels. Reads the git repository containing dir with libgit2 (HEAD
 * and the "origin" remote only; nothing is fetched or written).
 *
 * struct vcs_info is caller-owned: vcs_info_read fills it, vcs_info_release
 * frees its strings. Not being in a repository is no error: fields stay NULL. */
#ifndef AMLPKG_VCS_H
#define AMLPKG_VCS_H

struct vcs_info {
    char *revision; /* HEAD commit, 40 hex; NULL outside a repository or on an unborn branch */
    char *source;   /* origin's URL without credentials, or NULL */
    int dirty;      /* tracked files differ from HEAD */
};

int vcs_info_read(struct vcs_info *out, const char *dir);
void vcs_info_release(struct vcs_info *info);
/* url without "user:password@" (malloc'd; NULL when out of memory). */
char *vcs_strip_credentials(const char *url);

#endif
