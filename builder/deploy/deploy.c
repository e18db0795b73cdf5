/* Kubernetes objects for a package (see deploy.h). */
#include "builder/deploy/deploy.h"

#include "builder/deploy/kyaml.h"
#include "builder/image/plan.h"
#include "builder/image/reference.h"
#include "builder/sys/fsutil.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/path.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER "# Written by amlpkg deploy"
/* A user id no image names: amlpkg images hold root-owned, world-readable files only. */
#define RUN_AS 65532
#define STARTUP_PERIOD_S 5
/* Azure's AKS defaults (deploymentconfig.json), used where a field is not given. */
#define AZ_CPU_M 100
#define AZ_MEM_MI 512
#define AZ_MIN_REPLICAS 1
#define AZ_MAX_REPLICAS 10
#define AZ_REFRESH_S 1
#define AZ_TARGET_PCT 70
#define AZ_MAX_CONCURRENT 1
#define AZ_SCORING_TIMEOUT_MS 60000
#define AZ_QUEUE_WAIT_MS 500
#define AZ_LIVENESS_DELAY_S 310

/* An RFC 1123 label from the image name: lower case, [a-z0-9-], at most 40 so suffixes fit. */
static int derive_name(char *out, size_t size, const char *from)
{
    const char *base = strrchr(from, '/');
    base = base ? base + 1 : from;
    size_t n = 0;
    for (const char *c = base; *c && n + 1 < size && n < 40; c++) {
        char ch = (char)tolower((unsigned char)*c);
        out[n++] = (isalnum((unsigned char)ch) && isascii((unsigned char)ch)) ? ch : '-';
    }
    while (n && out[n - 1] == '-')
        n--;
    out[n] = 0;
    size_t skip = strspn(out, "-");
    memmove(out, out + skip, n - skip + 1);
    return out[0] ? 0 : -1;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 40 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return 0;
    return 1;
}

int deploy_plan_make(struct deploy_plan *p, const struct spec *spec, const struct deploy_request *req)
{
    memset(p, 0, sizeof *p);
    p->spec = spec;
    p->req = req;
    const struct spec_deploy *d = &spec->deploy;
    const struct spec_service *s = &spec->service;
    /* The image by digest: what runs is exactly what was built and scanned, on every node. */
    struct reference ref;
    if (!req->image)
        return err_set(ERR_USAGE, "--image: required (REF@sha256:<digest>, as `amlpkg build --push` prints)");
    if (reference_parse(&ref, req->image) || !ref.digest[0])
        return err_set(ERR_INVALID, "--image '%s': expected an image by digest, REF@sha256:<64 hex>", req->image);
    if (req->name) {
        if (!valid_name(req->name))
            return err_set(ERR_INVALID,
                           "--name '%s': expected 1 to 40 lower-case letters, digits and '-', starting and ending "
                           "with a letter or digit",
                           req->name);
        snprintf(p->name, sizeof p->name, "%s", req->name);
    } else if (derive_name(p->name, sizeof p->name, spec->image_name)) {
        return err_set(ERR_INVALID, "'%s' gives no Kubernetes name: set one with --name", spec->image_name);
    }
    p->namespace_ = req->namespace_ ? req->namespace_ : d->namespace_;
    p->service_type = req->service_type ? req->service_type : "ClusterIP";
    if (strcmp(p->service_type, "ClusterIP") && strcmp(p->service_type, "NodePort") &&
        strcmp(p->service_type, "LoadBalancer"))
        return err_set(ERR_USAGE, "--service-type '%s': expected ClusterIP, NodePort or LoadBalancer", p->service_type);
    /* Azure: AKS autoscales unless autoscaleEnabled is false or numReplicas fixes the count. */
    int aks = d->compute_type && !strncasecmp(d->compute_type, "AKS", 3);
    p->autoscale = d->autoscale_enabled == 1 || (d->autoscale_enabled == -1 && aks && !d->num_replicas);
    p->min_replicas = d->min_replicas ? d->min_replicas : AZ_MIN_REPLICAS;
    p->max_replicas = d->max_replicas ? d->max_replicas : AZ_MAX_REPLICAS;
    if (p->min_replicas > p->max_replicas)
        return err_set(ERR_INVALID, "%s: autoScaler: minReplicas (%d) is above maxReplicas (%d)",
                       d->file ? d->file : "deployment config", p->min_replicas, p->max_replicas);
    p->replicas = p->autoscale ? p->min_replicas : (d->num_replicas ? d->num_replicas : 1);
    p->refresh_s = d->refresh_s ? d->refresh_s : AZ_REFRESH_S;
    p->target_pct = s->target_utilization_pct ? s->target_utilization_pct : AZ_TARGET_PCT;
    p->max_concurrent = s->max_concurrent_requests ? s->max_concurrent_requests : AZ_MAX_CONCURRENT;
    p->scoring_timeout_ms = s->timeout_ms ? s->timeout_ms : AZ_SCORING_TIMEOUT_MS;
    p->queue_wait_ms = s->max_queue_wait_ms ? s->max_queue_wait_ms : AZ_QUEUE_WAIT_MS;
    p->cpu_m = d->cpu_millis ? d->cpu_millis : AZ_CPU_M;
    p->mem_mi = d->memory_mib ? d->memory_mib : AZ_MEM_MI;
    /* Azure's limits default to the requests: a replica gets what it asked for, no more (Guaranteed QoS). */
    p->cpu_limit_m = d->cpu_limit_millis ? d->cpu_limit_millis : p->cpu_m;
    p->mem_limit_mi = d->memory_limit_mib ? d->memory_limit_mib : p->mem_mi;
    if (p->cpu_limit_m < p->cpu_m || p->mem_limit_mi < p->mem_mi)
        return err_set(ERR_INVALID, "%s: containerResourceRequirements: a limit is below its request",
                       d->file ? d->file : "deployment config");
    p->gpu = d->gpu;
    p->auth = !s->auth_enabled ? 0 : s->token_secret_file ? 2 : 1;
    p->tls = s->tls_cert_file != NULL || d->ssl_enabled;
    /* Liveness: Azure's fields 1:1, except the initial delay, which the startup probe carries (Kubernetes
     * starts liveness only once the startup probe passed, so the model load is not killed). */
    p->liveness.period_s = d->liveness.period_s ? d->liveness.period_s : 10;
    p->liveness.timeout_s = d->liveness.timeout_s ? d->liveness.timeout_s : 2;
    p->liveness.success_threshold = 1;
    p->liveness.failure_threshold = d->liveness.failure_threshold ? d->liveness.failure_threshold : 3;
    int budget = d->liveness.initial_delay_s ? d->liveness.initial_delay_s : AZ_LIVENESS_DELAY_S;
    p->startup_failures = (budget + STARTUP_PERIOD_S - 1) / STARTUP_PERIOD_S;
    if (p->startup_failures < 1)
        p->startup_failures = 1;
    return 0;
}

static void labels(struct kyaml *y, int indent, const struct deploy_plan *p, int selector_only)
{
    kyaml_str(y, indent, "app.kubernetes.io/name", p->name);
    if (selector_only)
        return;
    if (p->part_of)
        kyaml_str(y, indent, "app.kubernetes.io/part-of", p->part_of);
    kyaml_str(y, indent, "app.kubernetes.io/component", "scoring");
    kyaml_str(y, indent, "app.kubernetes.io/managed-by", "amlpkg");
}

static void metadata(struct kyaml *y, const struct deploy_plan *p, const char *suffix, int with_namespace)
{
    char name[96];
    snprintf(name, sizeof name, "%s%s", p->name, suffix);
    kyaml_key(y, 0, "metadata");
    kyaml_str(y, 2, "name", name);
    if (with_namespace && p->namespace_)
        kyaml_str(y, 2, "namespace", p->namespace_);
    kyaml_key(y, 2, "labels");
    labels(y, 4, p, 0);
}

static void env_num(struct kyaml *y, const char *name, long v)
{
    char text[32];
    snprintf(text, sizeof text, "%ld", v);
    kyaml_str(y, 12, "- name", name);
    kyaml_str(y, 14, "value", text);
}

static void env_str(struct kyaml *y, const char *name, const char *v)
{
    kyaml_str(y, 12, "- name", name);
    kyaml_str(y, 14, "value", v);
}

static void http_probe(struct kyaml *y, const struct deploy_plan *p, const char *key, const char *path, int numeric)
{
    kyaml_key(y, 10, key);
    kyaml_key(y, 12, "httpGet");
    kyaml_str(y, 14, "path", path);
    if (numeric)
        kyaml_int(y, 14, "port", PLAN_PORT);
    else
        kyaml_str(y, 14, "port", "http");
    if (p->tls)
        kyaml_str(y, 14, "scheme", "HTTPS");
}

static void quantity_cpu(char *out, size_t size, long m)
{
    if (m % 1000 == 0)
        snprintf(out, size, "%ld", m / 1000);
    else
        snprintf(out, size, "%ldm", m);
}

static void quantity_mem(char *out, size_t size, long mi)
{
    if (mi % 1024 == 0)
        snprintf(out, size, "%ldGi", mi / 1024);
    else
        snprintf(out, size, "%ldMi", mi);
}

static void resources(struct kyaml *y, const struct deploy_plan *p)
{
    char cpu[32], mem[32], gpu[16];
    kyaml_key(y, 10, "resources");
    for (int limits = 0; limits < 2; limits++) {
        kyaml_key(y, 12, limits ? "limits" : "requests");
        quantity_cpu(cpu, sizeof cpu, limits ? p->cpu_limit_m : p->cpu_m);
        quantity_mem(mem, sizeof mem, limits ? p->mem_limit_mi : p->mem_mi);
        kyaml_str(y, 14, "cpu", cpu);
        kyaml_str(y, 14, "memory", mem);
        if (p->gpu) {
            snprintf(gpu, sizeof gpu, "%d", p->gpu);
            kyaml_str(y, 14, "nvidia.com/gpu", gpu);
        }
    }
}

static const char *secret_key(const struct deploy_plan *p)
{
    return p->auth == 2 ? "token-secret" : "keys";
}

static void emit_pod(struct kyaml *y, const struct deploy_plan *p, int podman, int host_port, int kserve);

/* podman: 0 for the cluster; else one replica with 5001 published on 127.0.0.1:host_port. */
static void emit_deployment(struct kyaml *y, const struct deploy_plan *p, int podman, int host_port)
{
    kyaml_str(y, 0, "apiVersion", "apps/v1");
    kyaml_str(y, 0, "kind", "Deployment");
    metadata(y, p, "", podman);
    kyaml_key(y, 0, "spec");
    if (podman || !p->autoscale)
        kyaml_int(y, 2, "replicas", podman ? 1 : p->replicas);
    else
        kyaml_comment(y, 2, "replicas: owned by the autoscaler (autoscaler.yaml); it starts at minReplicas");
    kyaml_int(y, 2, "revisionHistoryLimit", 5);
    kyaml_key(y, 2, "selector");
    kyaml_key(y, 4, "matchLabels");
    labels(y, 6, p, 1);
    kyaml_comment(y, 2, "Rolling updates add a new replica before removing an old one: never below the count.");
    kyaml_key(y, 2, "strategy");
    kyaml_str(y, 4, "type", "RollingUpdate");
    kyaml_key(y, 4, "rollingUpdate");
    kyaml_int(y, 6, "maxSurge", 1);
    kyaml_int(y, 6, "maxUnavailable", 0);
    kyaml_key(y, 2, "template");
    kyaml_key(y, 4, "metadata");
    kyaml_key(y, 6, "labels");
    labels(y, 8, p, 0);
    kyaml_key(y, 6, "annotations");
    kyaml_str(y, 8, "prometheus.io/scrape", "true");
    kyaml_str(y, 8, "prometheus.io/port", "5001");
    kyaml_str(y, 8, "prometheus.io/path", "/metrics");
    if (p->tls)
        kyaml_str(y, 8, "prometheus.io/scheme", "https");
    kyaml_key(y, 4, "spec");
    emit_pod(y, p, podman, host_port, 0);
}

/* The pod spec (keys at indent 6, as in a Deployment's template). kserve: KServe's predictor, which
 * Knative runs: its container is kserve-container with one port named http1 and numeric probe ports. */
static void emit_pod(struct kyaml *y, const struct deploy_plan *p, int podman, int host_port, int kserve)
{
    kyaml_bool(y, 6, "automountServiceAccountToken", 0);
    kyaml_comment(y, 6, "amlserve finishes requests in flight for up to 30 s after SIGTERM.");
    kyaml_int(y, 6, "terminationGracePeriodSeconds", DEPLOY_DRAIN_SECONDS + 5);
    kyaml_key(y, 6, "securityContext");
    kyaml_bool(y, 8, "runAsNonRoot", 1);
    kyaml_int(y, 8, "runAsUser", RUN_AS);
    kyaml_int(y, 8, "runAsGroup", RUN_AS);
    kyaml_key(y, 8, "seccompProfile");
    kyaml_str(y, 10, "type", "RuntimeDefault");
    kyaml_key(y, 6, "containers");
    kyaml_str(y, 8, "- name", kserve ? "kserve-container" : "amlserve");
    kyaml_str(y, 10, "image", p->req->image);
    kyaml_key(y, 10, "ports");
    kyaml_str(y, 12, "- name", kserve ? "http1" : "http");
    kyaml_int(y, 14, "containerPort", PLAN_PORT);
    kyaml_str(y, 14, "protocol", "TCP");
    if (podman) {
        kyaml_str(y, 14, "hostIP", "127.0.0.1");
        kyaml_int(y, 14, "hostPort", host_port);
    }
    kyaml_key(y, 10, "env");
    const struct spec_service *s = &p->spec->service;
    if (s->workers)
        env_num(y, "WORKER_COUNT", s->workers);
    env_num(y, "SCORING_TIMEOUT_MS", p->scoring_timeout_ms);
    env_num(y, "AMLSERVE_MAX_QUEUE", p->max_concurrent);
    env_num(y, "AMLSERVE_MAX_QUEUE_WAIT_MS", p->queue_wait_ms);
    if (p->auth) {
        env_str(y, p->auth == 2 ? "AMLSERVE_TOKEN_SECRET_FILE" : "AMLSERVE_AUTH_KEY_FILE",
                p->auth == 2 ? DEPLOY_SECRET_DIR "/token-secret" : DEPLOY_SECRET_DIR "/keys");
        env_str(y, "AMLSERVE_AUTH_REQUIRED", "1");
        /* The cluster's Prometheus scrapes /metrics for the autoscaler, without a key. */
        if (!kserve && p->autoscale && p->req->autoscaler != DEPLOY_AUTOSCALER_CPU)
            env_str(y, "AMLSERVE_PUBLIC_METRICS", "1");
    }
    if (p->tls) {
        env_str(y, "AMLSERVE_TLS_CERT", PLAN_TLS_DIR "/tls.crt");
        env_str(y, "AMLSERVE_TLS_KEY", PLAN_TLS_DIR "/tls.key");
    }
    resources(y, p);
    /* Knative has no startup probe: the liveness probe's first check waits the model-load budget. */
    if (!kserve) {
        http_probe(y, p, "startupProbe", "/ready", 0);
        kyaml_int(y, 12, "periodSeconds", STARTUP_PERIOD_S);
        kyaml_int(y, 12, "failureThreshold", p->startup_failures);
    }
    /* On KServe the predictor speaks the Open Inference Protocol too: its readiness route. */
    http_probe(y, p, "readinessProbe", kserve ? "/v2/health/ready" : "/ready", kserve);
    kyaml_int(y, 12, "periodSeconds", 5);
    kyaml_int(y, 12, "timeoutSeconds", p->liveness.timeout_s);
    kyaml_int(y, 12, "failureThreshold", 3);
    http_probe(y, p, "livenessProbe", "/", kserve);
    if (kserve)
        kyaml_int(y, 12, "initialDelaySeconds", p->startup_failures * STARTUP_PERIOD_S);
    kyaml_int(y, 12, "periodSeconds", p->liveness.period_s);
    kyaml_int(y, 12, "timeoutSeconds", p->liveness.timeout_s);
    kyaml_int(y, 12, "successThreshold", p->liveness.success_threshold);
    kyaml_int(y, 12, "failureThreshold", p->liveness.failure_threshold);
    kyaml_key(y, 10, "securityContext");
    kyaml_bool(y, 12, "allowPrivilegeEscalation", 0);
    kyaml_bool(y, 12, "readOnlyRootFilesystem", 1);
    kyaml_bool(y, 12, "runAsNonRoot", 1);
    kyaml_key(y, 12, "capabilities");
    kyaml_key(y, 14, "drop");
    kyaml_item(y, 16, "ALL");
    kyaml_key(y, 10, "volumeMounts");
    kyaml_str(y, 12, "- name", "tmp");
    kyaml_str(y, 14, "mountPath", "/tmp");
    if (p->auth) {
        kyaml_str(y, 12, "- name", "auth");
        kyaml_str(y, 14, "mountPath", DEPLOY_SECRET_DIR);
        kyaml_bool(y, 14, "readOnly", 1);
    }
    if (p->tls) {
        kyaml_str(y, 12, "- name", "tls");
        kyaml_str(y, 14, "mountPath", PLAN_TLS_DIR);
        kyaml_bool(y, 14, "readOnly", 1);
    }
    kyaml_key(y, 6, "volumes");
    kyaml_str(y, 8, "- name", "tmp");
    kyaml_key(y, 10, "emptyDir");
    kyaml_str(y, 12, "sizeLimit", "256Mi");
    char secret[96];
    if (p->auth) {
        snprintf(secret, sizeof secret, "%s-auth", p->name);
        kyaml_str(y, 8, "- name", "auth");
        kyaml_key(y, 10, "secret");
        kyaml_str(y, 12, "secretName", secret);
        /* Stated, not left to the default: podman 4.3's kube play crashes on a secret volume without it. */
        kyaml_bool(y, 12, "optional", 0);
        kyaml_key(y, 12, "items");
        kyaml_str(y, 14, "- key", secret_key(p));
        kyaml_str(y, 16, "path", secret_key(p));
    }
    if (p->tls) {
        snprintf(secret, sizeof secret, "%s-tls", p->name);
        kyaml_str(y, 8, "- name", "tls");
        kyaml_key(y, 10, "secret");
        kyaml_str(y, 12, "secretName", secret);
        kyaml_bool(y, 12, "optional", 0);
    }
}

static void emit_service(struct kyaml *y, const struct deploy_plan *p)
{
    kyaml_str(y, 0, "apiVersion", "v1");
    kyaml_str(y, 0, "kind", "Service");
    metadata(y, p, "", 0);
    kyaml_key(y, 0, "spec");
    kyaml_str(y, 2, "type", p->service_type);
    kyaml_key(y, 2, "selector");
    labels(y, 4, p, 1);
    kyaml_key(y, 2, "ports");
    kyaml_str(y, 4, "- name", "http");
    kyaml_int(y, 6, "port", p->tls ? 443 : 80);
    kyaml_str(y, 6, "targetPort", "http");
    kyaml_str(y, 6, "protocol", "TCP");
}

static void emit_pdb(struct kyaml *y, const struct deploy_plan *p)
{
    kyaml_str(y, 0, "apiVersion", "policy/v1");
    kyaml_str(y, 0, "kind", "PodDisruptionBudget");
    metadata(y, p, "", 0);
    kyaml_key(y, 0, "spec");
    kyaml_comment(y, 2, "Node drains take one replica at a time; a single replica can still be moved.");
    kyaml_int(y, 2, "maxUnavailable", 1);
    kyaml_key(y, 2, "selector");
    kyaml_key(y, 4, "matchLabels");
    labels(y, 6, p, 1);
}

/* Busy requests per replica that the autoscaler keeps: target utilization x max concurrent requests. */
static long target_millis(const struct deploy_plan *p)
{
    return (long)p->target_pct * p->max_concurrent * 10;
}

/* An autoscaler's metadata and the Deployment it scales (KEDA ScaledObject and HPA alike). */
static void autoscaler_head(struct kyaml *y, const struct deploy_plan *p)
{
    metadata(y, p, "", 0);
    kyaml_key(y, 0, "spec");
    kyaml_key(y, 2, "scaleTargetRef");
    kyaml_str(y, 4, "apiVersion", "apps/v1");
    kyaml_str(y, 4, "kind", "Deployment");
    kyaml_str(y, 4, "name", p->name);
}

static void emit_keda(struct kyaml *y, const struct deploy_plan *p)
{
    char threshold[32], query[512];
    long m = target_millis(p);
    snprintf(threshold, sizeof threshold, "%ld.%03ld", m / 1000, m % 1000);
    /* Trailing zeros off: 0.700 -> 0.7. */
    for (size_t n = strlen(threshold); n && threshold[n - 1] == '0'; n--)
        threshold[n - 1] = 0;
    if (threshold[strlen(threshold) - 1] == '.')
        threshold[strlen(threshold) - 1] = 0;
    if (p->namespace_)
        snprintf(query, sizeof query, "sum(amlserve_requests_busy{namespace=\"%s\",pod=~\"%s-[a-z0-9]+-[a-z0-9]+\"})",
                 p->namespace_, p->name);
    else
        snprintf(query, sizeof query, "sum(amlserve_requests_busy{pod=~\"%s-[a-z0-9]+-[a-z0-9]+\"})", p->name);
    kyaml_comment(y, 0,
                  "Scales on busy replicas, as Azure ML does: requests in flight per replica against\n"
                  "targetUtilization x maxConcurrentRequestsPerContainer (amlserve's /metrics).");
    kyaml_str(y, 0, "apiVersion", "keda.sh/v1alpha1");
    kyaml_str(y, 0, "kind", "ScaledObject");
    autoscaler_head(y, p);
    kyaml_int(y, 2, "minReplicaCount", p->min_replicas);
    kyaml_int(y, 2, "maxReplicaCount", p->max_replicas);
    kyaml_int(y, 2, "pollingInterval", p->refresh_s);
    kyaml_key(y, 2, "triggers");
    kyaml_str(y, 4, "- type", "prometheus");
    kyaml_str(y, 6, "metricType", "AverageValue");
    kyaml_key(y, 6, "metadata");
    kyaml_str(y, 8, "serverAddress", p->req->prometheus ? p->req->prometheus : DEPLOY_DEFAULT_PROMETHEUS);
    kyaml_str(y, 8, "query", query);
    kyaml_str(y, 8, "threshold", threshold);
}

static void emit_hpa(struct kyaml *y, const struct deploy_plan *p, int cpu)
{
    char value[32];
    if (cpu)
        kyaml_comment(y, 0, "CPU-based, as asked (--autoscaler cpu); Azure ML scales on busy replicas instead.");
    else
        kyaml_comment(y, 0,
                      "Scales on busy replicas without KEDA: needs prometheus-adapter serving the Pods\n"
                      "metric amlserve_requests_busy from amlserve's /metrics.");
    kyaml_str(y, 0, "apiVersion", "autoscaling/v2");
    kyaml_str(y, 0, "kind", "HorizontalPodAutoscaler");
    autoscaler_head(y, p);
    kyaml_int(y, 2, "minReplicas", p->min_replicas);
    kyaml_int(y, 2, "maxReplicas", p->max_replicas);
    kyaml_key(y, 2, "metrics");
    if (cpu) {
        kyaml_str(y, 4, "- type", "Resource");
        kyaml_key(y, 6, "resource");
        kyaml_str(y, 8, "name", "cpu");
        kyaml_key(y, 8, "target");
        kyaml_str(y, 10, "type", "Utilization");
        kyaml_int(y, 10, "averageUtilization", p->target_pct);
        return;
    }
    snprintf(value, sizeof value, "%ldm", target_millis(p));
    kyaml_str(y, 4, "- type", "Pods");
    kyaml_key(y, 6, "pods");
    kyaml_key(y, 8, "metric");
    kyaml_str(y, 10, "name", "amlserve_requests_busy");
    kyaml_key(y, 8, "target");
    kyaml_str(y, 10, "type", "AverageValue");
    kyaml_str(y, 10, "averageValue", value);
}

/* KServe's predictor (Knative underneath): it makes the Deployment, Service and autoscaler itself, from
 * these numbers; amlserve still checks keys, so the Secret is mounted the same way. */
static void emit_inference_service(struct kyaml *y, const struct deploy_plan *p)
{
    /* Knative's soft target: the busy requests per replica the autoscaler keeps, at least 1. */
    long target = (target_millis(p) + 999) / 1000;
    kyaml_comment(y, 0,
                  "KServe predictor: Knative scales on concurrency (busy requests per replica), as Azure ML\n"
                  "scales on busy replicas: scaleTarget = targetUtilization x maxConcurrentRequestsPerContainer.");
    kyaml_str(y, 0, "apiVersion", "serving.kserve.io/v1beta1");
    kyaml_str(y, 0, "kind", "InferenceService");
    metadata(y, p, "", 0);
    kyaml_key(y, 0, "spec");
    kyaml_key(y, 2, "predictor");
    kyaml_int(y, 4, "minReplicas", p->autoscale ? p->min_replicas : p->replicas);
    kyaml_int(y, 4, "maxReplicas", p->autoscale ? p->max_replicas : p->replicas);
    kyaml_str(y, 4, "scaleMetric", "concurrency");
    kyaml_int(y, 4, "scaleTarget", target < 1 ? 1 : target);
    kyaml_int(y, 4, "containerConcurrency", p->max_concurrent);
    kyaml_int(y, 4, "timeout", (p->scoring_timeout_ms + p->queue_wait_ms + 999) / 1000);
    if (p->canary_pct) {
        char note[200];
        snprintf(note, sizeof note,
                 "This revision takes %d%%; the rest stays on the revision rolled out before (%s):\n"
                 "apply that one first. Without canaryTrafficPercent, this revision takes everything.",
                 p->canary_pct, p->canary_of ? p->canary_of : "the previous one");
        kyaml_comment(y, 4, note);
        kyaml_int(y, 4, "canaryTrafficPercent", p->canary_pct);
    }
    y->shift = -2;
    emit_pod(y, p, 0, 0, 1);
    y->shift = 0;
}

enum { F_KUSTOMIZATION, F_DEPLOYMENT, F_SERVICE, F_PDB, F_AUTOSCALER, F_INFERENCE_SERVICE, F_COUNT };
static const char *const file_names[F_COUNT] = {"kustomization.yaml", "deployment.yaml", "service.yaml",
                                                "pdb.yaml",           "autoscaler.yaml", "inferenceservice.yaml"};

/* Whether the i-th file belongs to this plan's folder. */
static int file_wanted(const struct deploy_plan *p, int i)
{
    if (i == F_KUSTOMIZATION)
        return 1;
    if (p->req->kserve)
        return i == F_INFERENCE_SERVICE;
    return i != F_INFERENCE_SERVICE && (i != F_AUTOSCALER || p->autoscale);
}

static void emit_kustomization(struct kyaml *y, const struct deploy_plan *p)
{
    const struct spec *s = p->spec;
    struct buf head;
    buf_init(&head, 0);
    buf_appendf(&head,
                "Written by amlpkg deploy for %s:%s; regenerate rather than edit (`kubectl kustomize` renders it,\n"
                "`kubectl apply -k` applies it).",
                s->image_name, s->image_tag);
    if (p->auth)
        buf_appendf(&head,
                    "\nThe %s reads its %s from the Secret %s-auth (key '%s'): create it first\n"
                    "(amlpkg deploy --create-secret FILE writes one).",
                    p->req->kserve ? "InferenceService" : "Deployment", p->auth == 2 ? "token secret" : "keys", p->name,
                    secret_key(p));
    if (p->tls)
        buf_appendf(&head, "\nTLS: the kubernetes.io/tls Secret %s-tls is mounted where amlserve expects the pair.",
                    p->name);
    y->rc = y->rc ? y->rc : (head.data ? 0 : ERR_NOMEM);
    if (head.data)
        kyaml_comment(y, 0, head.data);
    buf_release(&head);
    kyaml_str(y, 0, "apiVersion", "kustomize.config.k8s.io/v1beta1");
    kyaml_str(y, 0, "kind", "Kustomization");
    if (p->namespace_)
        kyaml_str(y, 0, "namespace", p->namespace_);
    kyaml_key(y, 0, "resources");
    for (int i = F_DEPLOYMENT; i < F_COUNT; i++)
        if (file_wanted(p, i))
            kyaml_item(y, 2, file_names[i]);
}

int deploy_file_text(char **out, const char **name, const struct deploy_plan *p, int i)
{
    *out = NULL;
    if (i < 0 || i >= F_COUNT || !file_wanted(p, i))
        return 0;
    *name = file_names[i];
    struct kyaml y;
    kyaml_init(&y);
    switch (i) {
    case F_KUSTOMIZATION: emit_kustomization(&y, p); break;
    case F_DEPLOYMENT: emit_deployment(&y, p, 0, 0); break;
    case F_SERVICE: emit_service(&y, p); break;
    case F_PDB: emit_pdb(&y, p); break;
    case F_INFERENCE_SERVICE: emit_inference_service(&y, p); break;
    default:
        if (p->req->autoscaler == DEPLOY_AUTOSCALER_KEDA)
            emit_keda(&y, p);
        else
            emit_hpa(&y, p, p->req->autoscaler == DEPLOY_AUTOSCALER_CPU);
    }
    int rc = kyaml_done(&y);
    if (!rc) {
        *out = y.out.data;
        y.out.data = NULL;
    }
    kyaml_release(&y);
    return rc ? err_set(rc, "out of memory") : 0;
}

static int write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
    char *path = path_join(dir, name);
    if (!path)
        return err_set(ERR_NOMEM, "out of memory");
    FILE *f = fopen(path, "wx");
    int rc = 0;
    if (!f || fputs(text, f) < 0 || fchmod(fileno(f), mode))
        rc = f ? err_set_write(ERR_IO, "cannot write '%s'", path) : err_set_errno(ERR_IO, "cannot write '%s'", path);
    if (f && fclose(f) && !rc)
        rc = err_set_write(ERR_IO, "cannot write '%s'", path);
    free(path);
    return rc;
}

/* An existing folder may be replaced only when amlpkg deploy wrote it (or it is empty). */
static int check_replaceable(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return errno == ENOENT ? 0 : err_set(ERR_IO, "-o '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return err_set(ERR_EXISTS, "-o '%s': exists and is not a directory", dir);
    if (fs_dir_is_empty(dir) == 1)
        return 0;
    char *k = path_join(dir, "kustomization.yaml");
    struct buf b;
    buf_init(&b, 1 << 20);
    int ours = k && buf_read_file(&b, k) == 0 && b.data && strstr(b.data, MARKER);
    buf_release(&b);
    free(k);
    err_clear();
    return ours ? 0
                : err_set(ERR_EXISTS, "-o '%s': a folder amlpkg deploy did not write; give a new or empty one", dir);
}

void deploy_files_release(struct deploy_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->names[i]);
        free(f->texts[i]);
    }
    f->n = 0;
}

int deploy_files_add(struct deploy_files *f, const char *name, char *text)
{
    if (f->n == DEPLOY_MAX_FILES) {
        free(text);
        return err_set(ERR_LIMIT, "more than %d files", DEPLOY_MAX_FILES);
    }
    if (!(f->names[f->n] = strdup(name))) {
        free(text);
        return err_set(ERR_NOMEM, "out of memory");
    }
    f->texts[f->n++] = text;
    return 0;
}

int deploy_files_for_plan(struct deploy_files *out, const struct deploy_plan *p, const char *suffix)
{
    int rc = 0;
    for (int i = 0; i < F_COUNT && !rc; i++) {
        char *text = NULL, name[96];
        const char *base = NULL;
        if (suffix && i == F_KUSTOMIZATION)
            continue;
        if ((rc = deploy_file_text(&text, &base, p, i)) || !text)
            continue;
        const char *dot = strrchr(base, '.');
        if (suffix)
            snprintf(name, sizeof name, "%.*s-%s%s", (int)(dot - base), base, suffix, dot);
        else
            snprintf(name, sizeof name, "%s", base);
        rc = deploy_files_add(out, name, text);
    }
    return rc;
}

int deploy_write_folder(const struct deploy_plan *p, const char *dir)
{
    struct deploy_files f = {0};
    int rc = deploy_files_for_plan(&f, p, NULL);
    if (!rc)
        rc = deploy_files_write(&f, dir);
    deploy_files_release(&f);
    return rc;
}

int deploy_files_write(const struct deploy_files *f, const char *dir)
{
    int rc = check_replaceable(dir);
    if (rc)
        return rc;
    char *parent = fs_dirname(dir), *stage = NULL, *old = NULL;
    if (!parent)
        return err_set(ERR_NOMEM, "out of memory");
    if ((rc = fs_make_temp_dir(&stage, parent, ".amlpkg-deploy")))
        goto done;
    for (size_t i = 0; i < f->n && !rc; i++)
        rc = write_text(stage, f->names[i], f->texts[i], 0644);
    if (rc || (rc = chmod(stage, 0755) ? err_set(ERR_IO, "chmod '%s': %s", stage, strerror(errno)) : 0))
        goto done;
    /* Replace: the old folder moves aside, the new one in, then the old one goes. */
    struct stat st;
    if (stat(dir, &st) == 0) {
        if ((rc = fs_make_temp_dir(&old, parent, ".amlpkg-deploy-old")))
            goto done;
        rmdir(old);
        if (rename(dir, old) != 0) {
            rc = err_set(ERR_IO, "cannot move '%s' aside: %s", dir, strerror(errno));
            goto done;
        }
    }
    if (rename(stage, dir) != 0) {
        rc = err_set(ERR_IO, "cannot rename '%s' to '%s': %s", stage, dir, strerror(errno));
        if (old)
            rename(old, dir);
        goto done;
    }
    fs_temp_dir_forget(stage); /* in place: no longer temporary, its lock file goes */
    free(stage);
    stage = NULL;
done:
    if (stage)
        fs_remove_tree(stage);
    if (old)
        fs_remove_tree(old);
    free(stage);
    free(old);
    free(parent);
    return rc;
}

int deploy_file_replace(const char *dir, const char *name, const char *text)
{
    char *kust = path_join(dir, "kustomization.yaml"), *target = path_join(dir, name), *tmp = NULL;
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = 0;
    if (!kust || !target) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if (buf_read_file(&b, kust) || !b.data || !strstr(b.data, MARKER) || access(target, F_OK)) {
        err_clear();
        rc = err_set(ERR_NOTFOUND, "-o '%s': no folder amlpkg deploy wrote with %s in it", dir, name);
        goto done;
    }
    FILE *f = NULL;
    if ((rc = fs_temp_beside(&f, &tmp, target)))
        goto done;
    if (fputs(text, f) < 0 || fchmod(fileno(f), 0644)) {
        fclose(f);
        unlink(tmp);
        rc = err_set_write(ERR_IO, "cannot write '%s'", tmp);
        goto done;
    }
    rc = fs_commit(f, tmp, target);
done:
    buf_release(&b);
    free(kust);
    free(target);
    free(tmp);
    return rc;
}

/* 32 random bytes as base64url without padding: amlserve's key alphabet has no ',' or spaces. */
static int random_key(char *out, size_t size)
{
    unsigned char raw[32];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(raw, 1, sizeof raw, f) : 0;
    if (f)
        fclose(f);
    if (got != sizeof raw || size < 48)
        return err_set(ERR_IO, "cannot read /dev/urandom to generate a key");
    size_t n = base64_encode(out, raw, sizeof raw);
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    while (n && out[n - 1] == '=')
        n--;
    out[n] = 0;
    return 0;
}

int deploy_secret_value(char **out, const struct deploy_plan *p)
{
    *out = NULL;
    if (!p->auth)
        return err_set(ERR_INVALID, "--create-secret: the package has no authentication (authEnabled is false)");
    const struct spec_service *s = &p->spec->service;
    struct buf value;
    buf_init(&value, 1 << 20);
    int rc = 0;
    if (p->auth == 2)
        rc = buf_read_file(&value, s->token_secret_file);
    else if (s->auth_key_file)
        rc = buf_read_file(&value, s->auth_key_file);
    for (int i = 0; p->auth == 1 && !s->auth_key_file && i < 2 && !rc; i++) {
        char key[64];
        const char *k = s->auth_keys[i];
        if (!k && !(rc = random_key(key, sizeof key)))
            k = key;
        if (!rc)
            rc = buf_appendf(&value, "%s\n", k);
    }
    if (!rc && (!value.data || !value.len || memchr(value.data, 0, value.len)))
        rc = err_set(ERR_INVALID, "--create-secret: the keys or token secret are empty or not text");
    if (rc) {
        buf_release(&value);
        return rc;
    }
    *out = value.data;
    return 0;
}

/* raw: podman 4.3 reads a secret volume's data without base64-decoding it (nor stringData at all). */
static int secret_yaml(char **out, const struct deploy_plan *p, const char *value, int raw)
{
    *out = NULL;
    struct kyaml y;
    kyaml_init(&y);
    char name[96];
    snprintf(name, sizeof name, "%s-auth", p->name);
    if (!raw)
        kyaml_comment(&y, 0, "Written by amlpkg deploy --create-secret: keep it out of version control.");
    kyaml_str(&y, 0, "apiVersion", "v1");
    kyaml_str(&y, 0, "kind", "Secret");
    kyaml_key(&y, 0, "metadata");
    kyaml_str(&y, 2, "name", name);
    if (p->namespace_ && !raw)
        kyaml_str(&y, 2, "namespace", p->namespace_);
    kyaml_key(&y, 2, "labels");
    labels(&y, 4, p, 0);
    kyaml_str(&y, 0, "type", "Opaque");
    kyaml_key(&y, 0, raw ? "data" : "stringData");
    kyaml_str(&y, 2, secret_key(p), value);
    int rc = kyaml_done(&y);
    if (!rc) {
        *out = y.out.data;
        y.out.data = NULL;
    }
    kyaml_release(&y);
    return rc ? err_set(rc, "out of memory") : 0;
}

int deploy_secret_text(char **out, const struct deploy_plan *p, const char *value)
{
    return secret_yaml(out, p, value, 0);
}

int deploy_podman_secret_text(char **out, const struct deploy_plan *p, const char *value)
{
    return secret_yaml(out, p, value, 1);
}

int deploy_podman_text(char **out, const struct deploy_plan *p, int host_port)
{
    *out = NULL;
    struct kyaml y;
    kyaml_init(&y);
    emit_deployment(&y, p, 1, host_port);
    int rc = kyaml_done(&y);
    if (!rc) {
        *out = y.out.data;
        y.out.data = NULL;
    }
    kyaml_release(&y);
    return rc ? err_set(rc, "out of memory") : 0;
}
