#include "builder/sys/vcs.h"

#include "common/err.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

void vcs_info_release(struct vcs_info *info)
{
    free(info->revision);
    free(info->source);
    info->revision = info->source = NULL;
    info->dirty = 0;
}

char *vcs_strip_credentials(const char *url)
{
    const char *scheme = strstr(url, "://");
    if (!scheme)
        return strdup(url); /* scp-like "git@host:path": the user is no secret */
    const char *host = scheme + 3;
    size_t host_len = strcspn(host, "/?#");
    const char *at = memrchr(host, '@', host_len);
    if (!at)
        return strdup(url);
    size_t head = (size_t)(host - url), tail = strlen(at + 1);
    char *s = malloc(head + tail + 1);
    if (!s)
        return NULL;
    memcpy(s, url, head);
    memcpy(s + head, at + 1, tail + 1);
    return s;
}

/* Tracked files only: untracked and ignored files (build outputs) are not
 * what the commit describes, and skipping them keeps this cheap. */
static int is_dirty(git_repository *repo)
{
    git_status_options opts;
    if (git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION) != 0)
        return 0;
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    git_status_list *list = NULL;
    if (git_status_list_new(&list, repo, &opts) != 0)
        return 0;
    int dirty = git_status_list_entrycount(list) > 0;
    git_status_list_free(list);
    return dirty;
}

int vcs_info_read(struct vcs_info *out, const char *dir)
{
    memset(out, 0, sizeof *out);
    git_libgit2_init();
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    git_oid oid;
    int rc = 0;
    if (git_repository_open_ext(&repo, dir, 0, NULL) != 0 || git_repository_is_bare(repo))
        goto done; /* not in a repository: nothing to say */
    if (git_reference_name_to_id(&oid, repo, "HEAD") == 0) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, &oid);
        if (!(out->revision = strdup(hex))) {
            rc = err_set(ERR_NOMEM, "out of memory");
            goto done;
        }
        out->dirty = is_dirty(repo);
    }
    if (git_remote_lookup(&remote, repo, "origin") == 0 && git_remote_url(remote) &&
        !(out->source = vcs_strip_credentials(git_remote_url(remote))))
        rc = err_set(ERR_NOMEM, "out of memory");
done:
    git_remote_free(remote);
    git_repository_free(repo);
    git_libgit2_shutdown();
    if (rc)
        vcs_info_release(out);
    return rc;
}
