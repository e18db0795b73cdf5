/* An endpoint's folder (see deploy_endpoint.h). */
#include "builder/deploy/deploy_endpoint.h"

#include "builder/deploy/kyaml.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The plan of one version: the package's settings, the version's image and names. */
static int version_plan(struct deploy_plan *p, struct deploy_request *vreq, char *name, size_t size,
                        const struct spec *spec, const struct deploy_request *req, const struct endpoint *e,
                        const struct endpoint_version *v)
{
    *vreq = *req;
    vreq->image = v->image;
    snprintf(name, size, "%s-%s", e->name, v->name);
    vreq->name = name;
    int rc = deploy_plan_make(p, spec, vreq);
    if (!rc)
        p->part_of = e->name;
    return rc;
}

static void route_labels(struct kyaml *y, int indent, const struct endpoint *e)
{
    kyaml_str(y, indent, "app.kubernetes.io/name", e->name);
    kyaml_str(y, indent, "app.kubernetes.io/managed-by", "amlpkg");
}

int deploy_route_text(char **out, const struct endpoint *e)
{
    *out = NULL;
    struct kyaml y;
    kyaml_init(&y);
    char line[256], backend[64];
    kyaml_comment(&y, 0, "Traffic by weight between the versions (amlpkg deploy --set-traffic rewrites this file);");
    kyaml_comment(&y, 0, "the header azureml-model-deployment: VERSION sends a request to that version only.");
    for (size_t i = 0; i < e->n_versions; i++) {
        const struct endpoint_version *v = &e->versions[i];
        snprintf(line, sizeof line, "%s: %d%%%s%s", v->name, v->traffic, v->is_default ? " (default)" : "",
                 v->is_control       ? " (control)"
                 : e->n_versions > 1 ? " (treatment)"
                                     : "");
        kyaml_comment(&y, 0, line);
    }
    kyaml_str(&y, 0, "apiVersion", "gateway.networking.k8s.io/v1");
    kyaml_str(&y, 0, "kind", "HTTPRoute");
    kyaml_key(&y, 0, "metadata");
    kyaml_str(&y, 2, "name", e->name);
    kyaml_key(&y, 2, "labels");
    route_labels(&y, 4, e);
    kyaml_key(&y, 0, "spec");
    kyaml_key(&y, 2, "parentRefs");
    kyaml_str(&y, 4, "- name", e->gateway_name);
    if (e->gateway_namespace)
        kyaml_str(&y, 6, "namespace", e->gateway_namespace);
    if (e->n_hostnames) {
        kyaml_key(&y, 2, "hostnames");
        for (size_t i = 0; i < e->n_hostnames; i++)
            kyaml_item(&y, 4, e->hostnames[i]);
    }
    kyaml_key(&y, 2, "rules");
    for (size_t i = 0; i < e->n_versions; i++) {
        snprintf(backend, sizeof backend, "%s-%s", e->name, e->versions[i].name);
        kyaml_key(&y, 4, "- matches");
        kyaml_key(&y, 8, "- headers");
        kyaml_str(&y, 12, "- name", "azureml-model-deployment");
        kyaml_str(&y, 14, "value", e->versions[i].name);
        kyaml_key(&y, 6, "backendRefs");
        kyaml_str(&y, 8, "- name", backend);
        kyaml_int(&y, 10, "port", 80);
    }
    /* The split: the default version first. */
    kyaml_key(&y, 4, "- backendRefs");
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < e->n_versions; i++) {
            const struct endpoint_version *v = &e->versions[i];
            if (v->is_default != !pass)
                continue;
            snprintf(backend, sizeof backend, "%s-%s", e->name, v->name);
            kyaml_str(&y, 8, "- name", backend);
            kyaml_int(&y, 10, "port", 80);
            kyaml_int(&y, 10, "weight", v->traffic);
        }
    int rc = kyaml_done(&y);
    if (!rc) {
        *out = y.out.data;
        y.out.data = NULL;
    }
    kyaml_release(&y);
    return rc ? err_set(rc, "out of memory") : 0;
}

static int kustomization_text(char **out, const struct deploy_files *f, const struct endpoint *e,
                              const struct deploy_plan *first)
{
    struct kyaml y;
    kyaml_init(&y);
    char head[512];
    snprintf(head, sizeof head,
             "Written by amlpkg deploy for the endpoint %s (%zu version%s); regenerate rather than edit\n"
             "(`kubectl kustomize` renders it, `kubectl apply -k` applies it).%s",
             e->name, e->n_versions, e->n_versions == 1 ? "" : "s",
             first->auth ? "\nEach version reads its keys from the Secret ENDPOINT-VERSION-auth: create them first\n"
                           "(amlpkg deploy --create-secret FILE writes them)."
                         : "");
    kyaml_comment(&y, 0, head);
    kyaml_str(&y, 0, "apiVersion", "kustomize.config.k8s.io/v1beta1");
    kyaml_str(&y, 0, "kind", "Kustomization");
    if (first->namespace_)
        kyaml_str(&y, 0, "namespace", first->namespace_);
    kyaml_key(&y, 0, "resources");
    for (size_t i = 0; i < f->n; i++)
        kyaml_item(&y, 2, f->names[i]);
    int rc = kyaml_done(&y);
    if (!rc) {
        *out = y.out.data;
        y.out.data = NULL;
    }
    kyaml_release(&y);
    return rc ? err_set(rc, "out of memory") : 0;
}

/* KServe splits traffic between an InferenceService's latest revision and the one rolled out before it:
 * a two-version endpoint is one InferenceService whose predictor is the version that is not the default,
 * with canaryTrafficPercent its traffic. */
static int kserve_canary_files(struct deploy_files *out, const struct spec *spec, const struct deploy_request *req,
                               const struct endpoint *e)
{
    if (e->n_versions != 2)
        return err_set(ERR_UNSUPPORTED,
                       "%s: versions: KServe splits traffic between two revisions of one InferenceService (the "
                       "default and a canary); %zu versions need --target kubernetes",
                       e->file, e->n_versions);
    const struct endpoint_version *canary = e->versions[0].is_default ? &e->versions[1] : &e->versions[0];
    const struct endpoint_version *stable = canary == &e->versions[0] ? &e->versions[1] : &e->versions[0];
    struct deploy_request vreq = *req;
    vreq.image = canary->image;
    vreq.name = e->name;
    struct deploy_plan p;
    int rc = deploy_plan_make(&p, spec, &vreq);
    if (rc)
        return rc;
    p.canary_pct = canary->traffic;
    p.canary_of = stable->name;
    if (!canary->traffic)
        return err_set(ERR_INVALID, "%s:%d: versions: the canary '%s' has no traffic: deploy '%s' alone with --image",
                       e->file, canary->line, canary->name, stable->name);
    return deploy_files_for_plan(out, &p, NULL);
}

int deploy_endpoint_files(struct deploy_files *out, const struct spec *spec, const struct deploy_request *req,
                          const struct endpoint *e)
{
    if (req->kserve)
        return kserve_canary_files(out, spec, req, e);
    struct deploy_plan first;
    memset(&first, 0, sizeof first);
    int rc = 0;
    for (size_t i = 0; i < e->n_versions && !rc; i++) {
        struct deploy_plan p;
        struct deploy_request vreq;
        char name[64];
        if ((rc = version_plan(&p, &vreq, name, sizeof name, spec, req, e, &e->versions[i])))
            break;
        if (i == 0)
            first = p;
        rc = deploy_files_for_plan(out, &p, e->versions[i].name);
    }
    char *text = NULL;
    if (!rc && !(rc = deploy_route_text(&text, e)))
        rc = deploy_files_add(out, DEPLOY_ROUTE_FILE, text);
    if (!rc && !(rc = kustomization_text(&text, out, e, &first)))
        rc = deploy_files_add(out, "kustomization.yaml", text);
    return rc;
}

int deploy_endpoint_auth(const struct spec *spec)
{
    return spec->service.auth_enabled;
}

int deploy_endpoint_secret_text(char **out, const struct spec *spec, const struct deploy_request *req,
                                const struct endpoint *e, const char *value)
{
    *out = NULL;
    struct kyaml all;
    kyaml_init(&all);
    int rc = 0;
    for (size_t i = 0; i < e->n_versions && !rc; i++) {
        struct deploy_plan p;
        struct deploy_request vreq;
        char name[64], *text = NULL;
        if ((rc = version_plan(&p, &vreq, name, sizeof name, spec, req, e, &e->versions[i])) ||
            (rc = deploy_secret_text(&text, &p, value)))
            break;
        if (i)
            kyaml_separator(&all);
        if (!all.rc)
            all.rc = buf_append_str(&all.out, text);
        free(text);
    }
    if (!rc && (rc = kyaml_done(&all)))
        rc = err_set(rc, "out of memory");
    if (!rc) {
        *out = all.out.data;
        all.out.data = NULL;
    }
    kyaml_release(&all);
    return rc;
}
