#include "builder/spec/git_source.h"

#include "common/err.h"
#include "builder/sys/fsutil.h"
#include "builder/sys/vcs.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int git_failure(const char *what, const char *url)
{
    const git_error *e = git_error_last();
    return err_set(ERR_IO, "git source '%s': %s: %s", url, what, e && e->message ? e->message : "failed");
}

/* A ref as a remote branch first (what a clone names "origin/<ref>"), then as a tag or commit. */
static int resolve(git_object **out, git_repository *repo, const char *ref)
{
    char remote[512];
    snprintf(remote, sizeof remote, "origin/%s", ref);
    if (git_revparse_single(out, repo, remote) == 0)
        return 0;
    return git_revparse_single(out, repo, ref);
}

int git_source_checkout(struct git_checkout *out, const char *url, const char *ref)
{
    memset(out, 0, sizeof *out);
    git_libgit2_init();
    git_repository *repo = NULL;
    git_object *target = NULL, *commit = NULL;
    int rc = fs_make_tmp_dir(&out->dir, "amlpkg-git-");
    if (rc)
        goto done;
    git_clone_options opts;
    git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);
    opts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE; /* the ref is checked out below */
    if (git_clone(&repo, url, out->dir, &opts) != 0) {
        rc = git_failure("cannot clone", url);
        goto done;
    }
    if (resolve(&target, repo, ref) != 0) {
        rc = err_set(ERR_NOTFOUND, "git source '%s': no branch, tag or commit '%s'", url, ref);
        goto done;
    }
    if (git_object_peel(&commit, target, GIT_OBJECT_COMMIT) != 0) {
        rc = git_failure("not a commit", url);
        goto done;
    }
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (git_checkout_tree(repo, commit, &co) != 0 ||
        git_repository_set_head_detached(repo, git_object_id(commit)) != 0) {
        rc = git_failure("cannot check out", url);
        goto done;
    }
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, git_object_id(commit));
    if (!(out->commit = strdup(hex)) || !(out->url = vcs_strip_credentials(url)))
        rc = err_set(ERR_NOMEM, "out of memory");
done:
    git_object_free(commit);
    git_object_free(target);
    git_repository_free(repo);
    git_libgit2_shutdown();
    if (rc)
        git_source_release(out);
    return rc;
}

void git_source_release(struct git_checkout *c)
{
    if (c->dir)
        fs_remove_tree(c->dir);
    free(c->dir);
    free(c->commit);
    free(c->url);
    memset(c, 0, sizeof *c);
}
