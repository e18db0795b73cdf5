/* The libgit2 functions amlpkg calls, loaded on first use (lazy_lib.h). */
#include "builder/sys/lazy_lib.h"

#include <git2.h>

#ifndef AMLPKG_GIT2_SONAME
#define AMLPKG_GIT2_SONAME "libgit2.so.1.5"
#endif

static struct lazy_lib git2 = LAZY_LIB(AMLPKG_GIT2_SONAME);

LAZY_FORWARD(git2, int, git_libgit2_init, (void), ())
LAZY_FORWARD(git2, int, git_libgit2_shutdown, (void), ())
LAZY_FORWARD(git2, const git_error *, git_error_last, (void), ())
LAZY_FORWARD(git2, int, git_checkout_options_init, (git_checkout_options * opts, unsigned int version), (opts, version))
LAZY_FORWARD(git2, int, git_checkout_tree,
             (git_repository * repo, const git_object *treeish, const git_checkout_options *opts),
             (repo, treeish, opts))
LAZY_FORWARD(git2, int, git_clone,
             (git_repository * *out, const char *url, const char *local_path, const git_clone_options *options),
             (out, url, local_path, options))
LAZY_FORWARD(git2, int, git_clone_options_init, (git_clone_options * opts, unsigned int version), (opts, version))
LAZY_FORWARD_VOID(git2, git_object_free, (git_object * object), (object))
LAZY_FORWARD(git2, const git_oid *, git_object_id, (const git_object *obj), (obj))
LAZY_FORWARD(git2, int, git_object_peel, (git_object * *peeled, const git_object *object, git_object_t target_type),
             (peeled, object, target_type))
LAZY_FORWARD(git2, char *, git_oid_tostr, (char *out, size_t n, const git_oid *id), (out, n, id))
LAZY_FORWARD(git2, int, git_reference_name_to_id, (git_oid * out, git_repository *repo, const char *name),
             (out, repo, name))
LAZY_FORWARD_VOID(git2, git_remote_free, (git_remote * remote), (remote))
LAZY_FORWARD(git2, int, git_remote_lookup, (git_remote * *out, git_repository *repo, const char *name),
             (out, repo, name))
LAZY_FORWARD(git2, const char *, git_remote_url, (const git_remote *remote), (remote))
LAZY_FORWARD_VOID(git2, git_repository_free, (git_repository * repo), (repo))
LAZY_FORWARD(git2, int, git_repository_is_bare, (const git_repository *repo), (repo))
LAZY_FORWARD(git2, int, git_repository_open_ext,
             (git_repository * *out, const char *path, unsigned int flags, const char *ceiling_dirs),
             (out, path, flags, ceiling_dirs))
LAZY_FORWARD(git2, int, git_repository_set_head_detached, (git_repository * repo, const git_oid *committish),
             (repo, committish))
LAZY_FORWARD(git2, int, git_revparse_single, (git_object * *out, git_repository *repo, const char *spec),
             (out, repo, spec))
LAZY_FORWARD(git2, size_t, git_status_list_entrycount, (git_status_list * statuslist), (statuslist))
LAZY_FORWARD_VOID(git2, git_status_list_free, (git_status_list * statuslist), (statuslist))
LAZY_FORWARD(git2, int, git_status_list_new,
             (git_status_list * *out, git_repository *repo, const git_status_options *opts), (out, repo, opts))
LAZY_FORWARD(git2, int, git_status_options_init, (git_status_options * opts, unsigned int version), (opts, version))
