/* A source directory that lives in git: inference.source_directory given as
 * {git: {url, ref}}. The repository is cloned with libgit2 into a private
 * temporary folder and the ref (branch, tag or commit) checked out there;
 * the resolved commit id then decides the app layer and is recorded in the
 * image's revision/source labels. Local paths and file:// URLs work offline.
 *
 * struct git_checkout is caller-owned: git_source_checkout fills it,
 * git_source_release removes the folder and frees the strings. */
#ifndef AMLPKG_GIT_SOURCE_H
#define AMLPKG_GIT_SOURCE_H

struct git_checkout {
    char *dir;    /* the checked-out work tree */
    char *commit; /* 40 hex */
    char *url;    /* as cloned, credentials removed */
};

int git_source_checkout(struct git_checkout *out, const char *url, const char *ref);
void git_source_release(struct git_checkout *c);

#endif
