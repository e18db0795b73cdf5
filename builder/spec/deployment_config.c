/* deploymentconfig.json's cluster settings (see deployment_config.h). */
#include "builder/spec/deployment_config.h"

#include "builder/spec/azure_environment.h"
#include "common/err.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const resource_keys[] = {"cpu", "memoryInGB", "gpu", "cpuLimit", "memoryInGBLimit", NULL};
static const char *const scaler_keys[] = {"autoscaleEnabled",       "minReplicas",       "maxReplicas",
                                          "refreshPeriodInSeconds", "targetUtilization", NULL};
static const char *const probe_keys[] = {"periodSeconds",    "initialDelaySeconds", "timeoutSeconds",
                                         "successThreshold", "failureThreshold",    NULL};

/* Keys a cluster has no use for, and why: printed by `amlpkg deploy` when present. */
static const struct {
    const char *key, *reason;
} not_applicable[] = {
    {"port", "a local deployment's host port; in the cluster the container listens on 5001 and the Service on 80"},
    {"sslCertificate",
     "Azure uploads the file; put the pair in a kubernetes.io/tls Secret (kubectl create secret tls)"},
    {"sslKey", "Azure uploads the file; put the pair in a kubernetes.io/tls Secret (kubectl create secret tls)"},
    {"cname", "DNS names belong to the cluster's ingress or Gateway"},
    {"appInsightsEnabled", "Application Insights is Azure's; amlserve serves Prometheus metrics on /metrics"},
    {"enableAppInsights", "Application Insights is Azure's; amlserve serves Prometheus metrics on /metrics"},
    {"collectModelData", "Azure's model data collection; amlserve writes a JSON access log to stdout"},
    {"location", "an ACI region; the cluster's location is the cluster's"},
    {"dnsNameLabel", "an ACI DNS label; DNS names belong to the cluster's ingress or Gateway"},
    {"computeTargetName", "the cluster is kubectl's current context"},
    {"description", "Azure ML workspace metadata"},
    {"tags", "Azure ML workspace metadata"},
    {"properties", "Azure ML workspace metadata"},
    {"versionName", "an AKS endpoint version: give versions in --endpoint endpoint.yaml"},
    {"trafficPercentile", "an AKS endpoint version: give versions in --endpoint endpoint.yaml"},
    {"type", "an AKS endpoint version: give versions in --endpoint endpoint.yaml"},
    {"isDefault", "an AKS endpoint version: give versions in --endpoint endpoint.yaml"},
    {"isControlVersion", "an AKS endpoint version: give versions in --endpoint endpoint.yaml"},
};

static int add_note(struct spec_deploy *d, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **grown = realloc(d->notes, (d->n_notes + 1) * sizeof *grown);
    if (!grown)
        return err_set(ERR_NOMEM, "out of memory");
    d->notes = grown;
    if (!(d->notes[d->n_notes] = strdup(line)))
        return err_set(ERR_NOMEM, "out of memory");
    d->n_notes++;
    return 0;
}

static int read_int(struct yaml_tree *t, yaml_node_t *map, const char *key, const char *field, long long min,
                    long long max, int *out)
{
    yaml_node_t *n = azure_get(t, map, key);
    long long v = 0;
    int rc = n ? yaml_tree_int(t, n, field, min, max, &v) : 0;
    if (!rc && n)
        *out = (int)v;
    return rc;
}

/* A decimal such as 0.5 in (0, max], scaled (cores -> millicores, GB -> MiB) and rounded. */
static int read_scaled(struct yaml_tree *t, yaml_node_t *map, const char *key, const char *field, double max,
                       double scale, const char *unit, long *out)
{
    yaml_node_t *n = azure_get(t, map, key);
    if (!n)
        return 0;
    const char *s;
    int rc = yaml_tree_string(t, n, field, &s);
    if (rc)
        return rc;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    long scaled = isfinite(v) ? lround(v * scale) : 0;
    if (!s[0] || *end || errno || !isfinite(v) || v <= 0 || v > max || scaled < 1)
        return err_set(ERR_INVALID, "%s:%d: %s: expected a number of %s above 0 and at most %g, found another value",
                       t->file, yaml_tree_line(n), field, unit, max);
    *out = scaled;
    return 0;
}

static int read_mapping(struct yaml_tree *t, yaml_node_t *root, const char *key, const char *const *keys,
                        yaml_node_t **out)
{
    *out = azure_get(t, root, key);
    if (!*out)
        return 0;
    int rc = yaml_tree_expect(t, *out, YAML_MAPPING_NODE, key);
    return rc ? rc : yaml_tree_check_keys(t, *out, key, keys);
}

static int read_resources(struct spec_deploy *d, struct yaml_tree *t, yaml_node_t *root)
{
    yaml_node_t *r;
    int rc = read_mapping(t, root, "containerResourceRequirements", resource_keys, &r);
    if (rc)
        return rc;
    /* Both the nested form and the flat cpuCores/memoryGb/gpuCores of older files. */
    if ((rc = read_scaled(t, root, "cpuCores", "cpuCores", 1024, 1000, "cores", &d->cpu_millis)) ||
        (rc = read_scaled(t, root, "memoryGb", "memoryGb", 4096, 1024, "GB", &d->memory_mib)) ||
        (rc = read_int(t, root, "gpuCores", "gpuCores", 0, 64, &d->gpu)))
        return rc;
    if (!r)
        return 0;
    if ((rc = read_scaled(t, r, "cpu", "containerResourceRequirements.cpu", 1024, 1000, "cores", &d->cpu_millis)) ||
        (rc = read_scaled(t, r, "memoryInGB", "containerResourceRequirements.memoryInGB", 4096, 1024, "GB",
                          &d->memory_mib)) ||
        (rc = read_int(t, r, "gpu", "containerResourceRequirements.gpu", 0, 64, &d->gpu)) ||
        (rc = read_scaled(t, r, "cpuLimit", "containerResourceRequirements.cpuLimit", 1024, 1000, "cores",
                          &d->cpu_limit_millis)) ||
        (rc = read_scaled(t, r, "memoryInGBLimit", "containerResourceRequirements.memoryInGBLimit", 4096, 1024, "GB",
                          &d->memory_limit_mib)))
        return rc;
    /* A limit below the request is refused by the API server; say so here, where the line is known. */
    long request_cpu = d->cpu_millis ? d->cpu_millis : 100, request_mem = d->memory_mib ? d->memory_mib : 512;
    if (d->cpu_limit_millis && d->cpu_limit_millis < request_cpu)
        return err_set(ERR_INVALID, "%s:%d: containerResourceRequirements.cpuLimit: %.3g is below the request (%.3g)",
                       t->file, yaml_tree_line(azure_get(t, r, "cpuLimit")), d->cpu_limit_millis / 1000.0,
                       request_cpu / 1000.0);
    if (d->memory_limit_mib && d->memory_limit_mib < request_mem)
        return err_set(ERR_INVALID,
                       "%s:%d: containerResourceRequirements.memoryInGBLimit: %.3g is below the request (%.3g)",
                       t->file, yaml_tree_line(azure_get(t, r, "memoryInGBLimit")), d->memory_limit_mib / 1024.0,
                       request_mem / 1024.0);
    return 0;
}

static int read_autoscaler(struct spec_deploy *d, struct yaml_tree *t, yaml_node_t *root)
{
    yaml_node_t *a;
    int rc = read_mapping(t, root, "autoScaler", scaler_keys, &a);
    if (rc || !a)
        return rc;
    yaml_node_t *n = azure_get(t, a, "autoscaleEnabled");
    if (n && (rc = yaml_tree_bool(t, n, "autoScaler.autoscaleEnabled", &d->autoscale_enabled)))
        return rc;
    /* targetUtilization is a service setting (spec_azure.c); the rest is the autoscaler's. */
    if ((rc = read_int(t, a, "minReplicas", "autoScaler.minReplicas", 1, 1000, &d->min_replicas)) ||
        (rc = read_int(t, a, "maxReplicas", "autoScaler.maxReplicas", 1, 1000, &d->max_replicas)) ||
        (rc = read_int(t, a, "refreshPeriodInSeconds", "autoScaler.refreshPeriodInSeconds", 1, 3600, &d->refresh_s)))
        return rc;
    int min = d->min_replicas ? d->min_replicas : 1, max = d->max_replicas ? d->max_replicas : 10;
    if (min > max) {
        yaml_node_t *at = azure_get(t, a, d->max_replicas ? "maxReplicas" : "minReplicas");
        return err_set(ERR_INVALID, "%s:%d: autoScaler: minReplicas (%d) is above maxReplicas (%d)", t->file,
                       yaml_tree_line(at), min, max);
    }
    return 0;
}

static int read_probe(struct spec_deploy *d, struct yaml_tree *t, yaml_node_t *root)
{
    yaml_node_t *p;
    int rc = read_mapping(t, root, "livenessProbeRequirements", probe_keys, &p);
    if (rc || !p)
        return rc;
    struct spec_probe *l = &d->liveness;
    if ((rc = read_int(t, p, "periodSeconds", "livenessProbeRequirements.periodSeconds", 1, 3600, &l->period_s)) ||
        (rc = read_int(t, p, "initialDelaySeconds", "livenessProbeRequirements.initialDelaySeconds", 0, 3600,
                       &l->initial_delay_s)) ||
        (rc = read_int(t, p, "timeoutSeconds", "livenessProbeRequirements.timeoutSeconds", 1, 3600, &l->timeout_s)) ||
        (rc = read_int(t, p, "failureThreshold", "livenessProbeRequirements.failureThreshold", 1, 100,
                       &l->failure_threshold)))
        return rc;
    /* Kubernetes accepts only 1 for a liveness probe; Azure allows more but means the same. */
    return read_int(t, p, "successThreshold", "livenessProbeRequirements.successThreshold (Kubernetes: 1 for liveness)",
                    1, 1, &l->success_threshold);
}

/* RFC 1123 label, as Azure and Kubernetes both require of a namespace. */
static int valid_namespace(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

int deployment_config_read(struct spec_deploy *d, struct yaml_tree *t, yaml_node_t *root)
{
    int rc = 0;
    const char *s;
    d->autoscale_enabled = -1;
    yaml_node_t *n = azure_get(t, root, "computeType");
    if (!(d->file = strdup(t->file)) ||
        (n && !yaml_tree_string(t, n, "computeType", &s) && !(d->compute_type = strdup(s))))
        return err_set(ERR_NOMEM, "out of memory");
    if ((rc = read_resources(d, t, root)) || (rc = read_autoscaler(d, t, root)) || (rc = read_probe(d, t, root)) ||
        (rc = read_int(t, root, "numReplicas", "numReplicas", 1, 1000, &d->num_replicas)))
        return rc;
    if ((n = azure_get(t, root, "sslEnabled")) && (rc = yaml_tree_bool(t, n, "sslEnabled", &d->ssl_enabled)))
        return rc;
    if (d->num_replicas && d->autoscale_enabled == 1)
        return err_set(ERR_INVALID,
                       "%s:%d: numReplicas: a fixed number of replicas needs autoScaler.autoscaleEnabled: "
                       "false (as in Azure ML)",
                       t->file, yaml_tree_line(azure_get(t, root, "numReplicas")));
    if ((n = azure_get(t, root, "namespace"))) {
        if ((rc = yaml_tree_string(t, n, "namespace", &s)))
            return rc;
        if (!valid_namespace(s))
            return err_set(ERR_INVALID,
                           "%s:%d: namespace: '%s' is not a namespace (lower-case letters, digits and '-', at most 63, "
                           "starting and ending with a letter or digit)",
                           t->file, yaml_tree_line(n), s);
        if (!(d->namespace_ = strdup(s)))
            return err_set(ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < sizeof not_applicable / sizeof not_applicable[0] && !rc; i++)
        if ((n = azure_get(t, root, not_applicable[i].key)))
            rc = add_note(d, "%s:%d: %s: not applicable: %s", t->file, yaml_tree_line(n), not_applicable[i].key,
                          not_applicable[i].reason);
    return rc;
}

void deployment_config_release(struct spec_deploy *d)
{
    free(d->file);
    free(d->compute_type);
    free(d->namespace_);
    for (size_t i = 0; i < d->n_notes; i++)
        free(d->notes[i]);
    free(d->notes);
    memset(d, 0, sizeof *d);
}
