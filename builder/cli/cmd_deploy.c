/* amlpkg deploy: a package's Kubernetes objects as a kustomize folder, or the same Deployment run by podman. */
#include "builder/cli/commands.h"
#include "builder/cli/spec_cli.h"
#include "builder/cli/transfer_cli.h"
#include "builder/pipeline/build_run.h"
#include "builder/deploy/deploy.h"
#include "builder/deploy/deploy_endpoint.h"
#include "builder/spec/spec_azure.h"
#include "builder/sys/engine_cmd.h"
#include "builder/sys/fsutil.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/parse_number.h"
#include "common/path.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char deploy_usage[] =
    "usage: amlpkg deploy SPEC [--deployment-config F] --image REF@sha256:DIGEST -o DIR [options]\n"
    "       amlpkg deploy --inference-config F --model N:V=PATH... --deployment-config F --image ... -o DIR\n"
    "       amlpkg deploy SPEC --endpoint endpoint.yaml -o DIR [--set-traffic V=P,...]\n"
    "\n"
    "Writes the package's Kubernetes objects as a kustomize folder: kustomization.yaml, deployment.yaml,\n"
    "service.yaml (port 80 -> 5001), pdb.yaml and, when autoscaling, autoscaler.yaml. Settings come from\n"
    "the spec's service section and Azure ML's deploymentconfig.json (replicas, resources, GPUs,\n"
    "autoscaler, liveness probe, keys, namespace), with Azure's AKS defaults where a field is not given;\n"
    "fields a cluster has no use for are listed with the reason. `kubectl apply -k DIR` applies it.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR        the folder to write (new, empty, or one amlpkg deploy wrote: replaced whole)\n"
    "      --image REF@sha256:DIGEST  the image, by digest (the digest is what `build --push` prints last)\n"
    "      --push REF          instead of --image: build the package, push it to REF (registry/repo[:tag];\n"
    "                          --creds USER:PASS, --authfile FILE, --insecure, --ca-cert FILE as for\n"
    "                          `amlpkg push`) and\n"
    "                          deploy the pushed digest\n"
    "      --name NAME         object names (default: the image name, lower-cased)\n"
    "      --namespace NS      the kustomization's namespace (default: deploymentconfig.json's, else none)\n"
    "      --service-type T    ClusterIP (default), NodePort or LoadBalancer\n"
    "      --autoscaler A      keda (default): a KEDA ScaledObject on busy replicas (Prometheus trigger);\n"
    "                          hpa: an autoscaling/v2 HPA on the same Pods metric (prometheus-adapter);\n"
    "                          cpu: an HPA on CPU utilization (Azure ML advises against it)\n"
    "      --prometheus URL    the KEDA trigger's Prometheus (default " DEPLOY_DEFAULT_PROMETHEUS ")\n"
    "      --endpoint F        several versions behind one route (Azure's AKS endpoint): endpoint.yaml lists\n"
    "                          each version's image and traffic percentage (summing to 100), one default,\n"
    "                          optionally a control; writes each version's objects and a Gateway API\n"
    "                          HTTPRoute with weighted backends (instead of --image)\n"
    "      --set-traffic V=P,...  with --endpoint: new percentages; rewrites only DIR's httproute.yaml\n"
    "      --apply             then `kubectl apply --server-side` the Secret (--create-secret) and the folder\n"
    "                          (kubectl's current context; $AMLPKG_KUBECTL gives the command words), wait\n"
    "                          for the rollout, and print how to reach /score and read the key\n"
    "      --dry-run           then `kubectl diff --server-side -k DIR`: what --apply would change in the\n"
    "                          cluster (exit 0 either way; an unreachable cluster is an error)\n"
    "      --create-secret F   also write the Secret the Deployment reads (the spec's keys or token\n"
    "                          secret, else two new random keys) to F, mode 0600, never into DIR\n"
    "      --target T          kubernetes (default): write DIR;\n"
    "                          kserve: DIR holds a KServe InferenceService (custom predictor container;\n"
    "                          minReplicas/maxReplicas, scaleMetric concurrency, scaleTarget,\n"
    "                          containerConcurrency) instead of Deployment, Service, PDB and autoscaler;\n"
    "                          podman: run the same Deployment (and the Secret from --create-secret) with\n"
    "                          `podman kube play` on this machine, port 5001 on 127.0.0.1:--host-port;\n"
    "                          podman plays one replica and no Service, PDB or autoscaler\n"
    "      --host-port N       with --target podman (default 8080)\n"
    "  -h, --help              show this help\n" SPEC_CLI_HELP "\n"
    "The command words for podman come from $AMLPKG_PODMAN (default podman). The mapping of every\n"
    "deploymentconfig.json field is in specs/kubernetes-mapping.md.\n";

struct deploy_options {
    struct spec_cli package;
    struct transfer_cli transfer; /* --creds, --insecure, --ca-cert for --push */
    const char *push;
    char pushed[700]; /* REGISTRY/REPOSITORY@DIGEST after --push */
    struct deploy_request req;
    const char *spec_path, *output, *create_secret, *deployment_config, *endpoint, *set_traffic;
    int podman, apply, dry_run;
    long host_port;
};

static int parse_options(struct deploy_options *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"image", required_argument, NULL, 'i'},
        {"name", required_argument, NULL, 'n'},
        {"namespace", required_argument, NULL, 'N'},
        {"service-type", required_argument, NULL, 's'},
        {"autoscaler", required_argument, NULL, 'a'},
        {"prometheus", required_argument, NULL, 'p'},
        {"create-secret", required_argument, NULL, 'c'},
        {"target", required_argument, NULL, 't'},
        {"host-port", required_argument, NULL, 'P'},
        {"push", required_argument, NULL, 'u'},
        {"creds", required_argument, NULL, 0x100},
        {"insecure", no_argument, NULL, 0x101},
        {"ca-cert", required_argument, NULL, 0x102},
        {"authfile", required_argument, NULL, 0x104},
        {"apply", no_argument, NULL, 'A'},
        {"dry-run", no_argument, NULL, 'D'},
        {"endpoint", required_argument, NULL, 'e'},
        {"set-traffic", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        SPEC_CLI_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    o->host_port = 8080;
    while ((c = getopt_long(argc, argv, "o:h", long_opts, NULL)) != -1) {
        int used = spec_cli_option(&o->package, c, optarg, "deploy");
        if (used < 0)
            return EXIT_USAGE;
        if (used)
            continue;
        if ((c >= 0x100 && c <= 0x102) || c == 0x104) {
            transfer_cli_option(&o->transfer, c, optarg, "deploy");
            continue;
        }
        switch (c) {
        case 'u': o->push = optarg; break;
        case 'o': o->output = optarg; break;
        case 'i': o->req.image = optarg; break;
        case 'n': o->req.name = optarg; break;
        case 'N': o->req.namespace_ = optarg; break;
        case 's': o->req.service_type = optarg; break;
        case 'p': o->req.prometheus = optarg; break;
        case 'c': o->create_secret = optarg; break;
        case 'e': o->endpoint = optarg; break;
        case 'T': o->set_traffic = optarg; break;
        case 'A': o->apply = 1; break;
        case 'D': o->dry_run = 1; break;
        case 'a':
            if (!strcmp(optarg, "keda"))
                o->req.autoscaler = DEPLOY_AUTOSCALER_KEDA;
            else if (!strcmp(optarg, "hpa"))
                o->req.autoscaler = DEPLOY_AUTOSCALER_HPA;
            else if (!strcmp(optarg, "cpu"))
                o->req.autoscaler = DEPLOY_AUTOSCALER_CPU;
            else {
                fprintf(stderr, "amlpkg deploy: --autoscaler '%s' is not one of keda, hpa, cpu\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (strcmp(optarg, "kubernetes") && strcmp(optarg, "podman") && strcmp(optarg, "kserve")) {
                fprintf(stderr, "amlpkg deploy: --target '%s' is not one of kubernetes, kserve, podman\n", optarg);
                return EXIT_USAGE;
            }
            o->podman = !strcmp(optarg, "podman");
            o->req.kserve = !strcmp(optarg, "kserve");
            break;
        case 'P': {
            long long port;
            int bad = parse_number_int(&port, "--host-port", optarg, 1, 65535);
            if (bad) {
                fprintf(stderr, "amlpkg deploy: %s\n", err_message(bad));
                err_clear();
                return EXIT_USAGE;
            }
            o->host_port = (long)port;
            break;
        }
        case 'h': fputs(deploy_usage, stdout); return -1;
        default: return cmd_usage_error(deploy_usage);
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "amlpkg deploy: unexpected argument '%s'\n%s", argv[optind + 1], deploy_usage);
        return EXIT_USAGE;
    }
    o->spec_path = optind < argc ? argv[optind] : NULL;
    /* A SPEC may take Azure's deploymentconfig.json too: it holds what spec.yaml has no section for. */
    if (o->spec_path && o->package.deployment_config) {
        o->deployment_config = o->package.deployment_config;
        o->package.deployment_config = NULL;
    }
    if (spec_cli_check(&o->package, o->spec_path, "deploy"))
        return EXIT_USAGE;
    if (!o->output && !o->podman) {
        fputs("amlpkg deploy: -o DIR is required (the folder to write)\n", stderr);
        return EXIT_USAGE;
    }
    const char *problem = NULL;
    if (o->push && (o->req.image || o->endpoint))
        problem = "--push builds and pushes the image deployed: no --image or --endpoint";
    else if ((o->transfer.reg.creds || o->transfer.reg.authfile || o->transfer.reg.insecure || o->transfer.reg.ca_cert) &&
             !o->push)
        problem = "--creds, --authfile, --insecure and --ca-cert go with --push";
    else if (o->endpoint && o->req.image)
        problem = "--endpoint names each version's image: no --image";
    else if (!o->endpoint && !o->req.image && !o->push)
        problem = "--image REF@sha256:DIGEST is required (the image, by digest)";
    else if (o->set_traffic && o->req.kserve)
        problem = "--set-traffic rewrites an HTTPRoute; with --target kserve, regenerate (canaryTrafficPercent)";
    else if (o->set_traffic && !o->endpoint)
        problem = "--set-traffic goes with --endpoint (the versions it names)";
    else if (o->endpoint && o->podman)
        problem = "--target podman plays one Deployment: give --image, not --endpoint";
    else if ((o->apply || o->dry_run) && o->podman)
        problem = "--apply and --dry-run go to a cluster, --target podman to this machine: one or the other";
    else if (o->apply && o->dry_run)
        problem = "--dry-run shows what --apply would change: one or the other";
    else if (o->set_traffic && o->create_secret)
        problem = "--set-traffic rewrites only the route: no --create-secret";
    if (problem) {
        fprintf(stderr, "amlpkg deploy: %s\n", problem);
        return EXIT_USAGE;
    }
    return 0;
}

/* The Secret file: created new (never over an existing file), mode 0600. */
static int write_secret(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return err_set(errno == EEXIST ? ERR_EXISTS : ERR_IO, "--create-secret '%s': %s", path,
                       errno == EEXIST ? "already exists (keys are not replaced silently)" : strerror(errno));
    size_t n = strlen(text);
    int rc = fs_write_all(fd, text, n) != 0 ? err_set_write(ERR_IO, "--create-secret '%s'", path) : 0;
    if (close(fd) && !rc)
        rc = err_set_write(ERR_IO, "--create-secret '%s'", path);
    if (rc)
        unlink(path);
    return rc;
}

static int write_new(const char *dir, const char *name, const char *text, char **out)
{
    if (!(*out = path_join(dir, name)))
        return err_set(ERR_NOMEM, "out of memory");
    FILE *f = fopen(*out, "wx");
    if (!f)
        return err_set_errno(ERR_IO, "cannot write '%s'", *out);
    if ((fputs(text, f) < 0) + (fclose(f) != 0))
        return err_set_write(ERR_IO, "cannot write '%s'", *out);
    return 0;
}

/* podman kube play of the Deployment, from a private temporary folder. The Secret goes to podman
 * first with `podman secret create` (podman 4.3's kube play stores a Secret it cannot read back);
 * a volume left by an earlier play would keep the old keys, so it goes too. */
static int play_podman(const struct deploy_plan *p, const char *secret_value, int host_port)
{
    char *text = NULL, *secret = NULL, *dir = NULL, *file = NULL, *secret_file = NULL;
    char secret_name[96];
    snprintf(secret_name, sizeof secret_name, "%s-auth", p->name);
    struct engine_cmd podman = {0};
    int rc = deploy_podman_text(&text, p, host_port);
    if (!rc && secret_value)
        rc = deploy_podman_secret_text(&secret, p, secret_value);
    if (rc || (rc = fs_make_tmp_dir(&dir, "amlpkg-play")) ||
        (rc = write_new(dir, "deployment.yaml", text, &file)) ||
        (secret && (rc = write_new(dir, "secret.yaml", secret, &secret_file))) ||
        (rc = engine_cmd_init(&podman, "AMLPKG_PODMAN", "podman")))
        goto done;
    if (secret) {
        char pod[100];
        snprintf(pod, sizeof pod, "%s-pod-0", p->name);
        engine_cmd_run(&podman, (const char *[]){"pod", "rm", "-f", "--ignore", pod, NULL}, NULL, NULL);
        engine_cmd_run(&podman, (const char *[]){"secret", "rm", secret_name, NULL}, NULL, NULL);
        engine_cmd_run(&podman, (const char *[]){"volume", "rm", "-f", secret_name, NULL}, NULL, NULL);
        err_clear();
        if ((rc = engine_cmd_run(&podman, (const char *[]){"secret", "create", secret_name, secret_file, NULL}, NULL,
                                 "podman: ")))
            goto done;
    }
    if ((rc = engine_cmd_run(&podman, (const char *[]){"kube", "play", "--replace", file, NULL}, NULL, "podman: ")))
        goto done;
    printf("podman: playing the Deployment %s (pod %s-pod-0): http://127.0.0.1:%d/score\n", p->name, p->name,
           host_port);
    printf("podman plays one replica and no Service, PodDisruptionBudget or autoscaler; stop it with:\n"
           "  podman pod rm -f %s-pod-0\n",
           p->name);
    if (secret)
        printf("  podman secret rm %s && podman volume rm %s\n", secret_name, secret_name);
done:
    if (dir)
        fs_remove_tree(dir);
    engine_cmd_release(&podman);
    free(file);
    free(secret_file);
    free(dir);
    free(secret);
    free(text);
    return rc;
}

/* --push: the package built into a private temporary archive, pushed as `amlpkg build --push` does
 * (without the SBOM), and named by the digest the registry stored. The logic duplicates part of
 * cmd_build.c's push_built, which is not shared yet. */
static int build_and_push(struct deploy_options *o, struct spec *spec)
{
    struct reference ref;
    int rc = reference_parse(&ref, o->push);
    if (rc)
        return rc;
    char *dir = NULL, *archive = NULL;
    struct build_result result = {0};
    struct build_request req = {.no_sbom = 1};
    struct registry *reg = NULL;
    struct image_transfer x = {.jobs = 4, .tty = 0};
    req.env.reg = o->transfer.reg;
    const char *global = getenv("AMLPKG_GLOBAL_CACHE");
    if (global && global[0])
        req.env.global_cache_dir = global;
    if ((rc = fs_make_tmp_dir(&dir, "amlpkg-deploy-push")))
        return rc;
    if (!(archive = path_join(dir, "image.tar"))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    req.output = archive;
    if ((rc = build_run(&result, spec, &req)))
        goto done;
    char what[600];
    snprintf(what, sizeof what, "--push %s", o->push);
    if ((rc = transfer_cli_push_image(&reg, &x, &ref, what, result.output, &o->transfer.reg, NULL)))
        goto done;
    snprintf(o->pushed, sizeof o->pushed, "%s/%s@%s", ref.registry, ref.repository, x.digest);
    fprintf(stderr, "built and pushed %s: %d blobs (%d uploaded, %d skipped, %d mounted)\n", o->pushed, x.blobs,
            x.uploaded, x.existed, x.mounted);
    o->req.image = o->pushed;
done:
    registry_free(reg);
    build_result_release(&result);
    fs_remove_tree(dir);
    free(archive);
    free(dir);
    return rc;
}

/* --dry-run: kubectl compares what was written with the cluster's objects
 * (exit 1 from kubectl diff means "there are differences", not a failure). */
static int diff_kubectl(const struct deploy_options *o)
{
    struct engine_cmd k = {0};
    struct buf diff;
    buf_init(&diff, 0);
    int status = 0;
    int rc = engine_cmd_init(&k, "AMLPKG_KUBECTL", "kubectl");
    if (!rc)
        rc = engine_cmd_run_status(&k, (const char *[]){"diff", "--server-side", "-k", o->output, NULL}, &diff, NULL,
                                   &status);
    if (!rc && status > 1)
        rc = err_set(ERR_IO, "kubectl diff -k %s failed with exit status %d (is the cluster reachable? kubectl's "
                             "message is above)",
                     o->output, status);
    if (!rc) {
        fwrite(diff.data, 1, diff.len, stdout);
        printf(status ? "--dry-run: the cluster differs as shown; --apply would make it so\n"
                      : "--dry-run: the cluster already matches %s\n",
               o->output);
    }
    buf_release(&diff);
    engine_cmd_release(&k);
    return rc;
}

/* --apply: kubectl applies what was written (server-side), then the rollout is waited for. */
static int apply_kubectl(const struct deploy_options *o, const char *namespace_, const char *const *deployments,
                         size_t n, const char *isvc, int auth, const char *secret_of)
{
    struct engine_cmd k = {0};
    int rc = engine_cmd_init(&k, "AMLPKG_KUBECTL", "kubectl");
    const char *ns[3] = {namespace_ ? "--namespace" : NULL, namespace_, NULL};
    if (!rc && o->create_secret)
        rc = engine_cmd_run(&k, (const char *[]){"apply", "--server-side", "-f", o->create_secret, ns[0], ns[1], NULL},
                            NULL, "kubectl: ");
    if (!rc)
        rc = engine_cmd_run(&k, (const char *[]){"apply", "--server-side", "-k", o->output, NULL}, NULL, "kubectl: ");
    for (size_t i = 0; i < n && !rc; i++) {
        char what[96];
        snprintf(what, sizeof what, "deployment/%s", deployments[i]);
        fprintf(stderr, "waiting for the rollout of %s...\n", what);
        rc = engine_cmd_run(&k, (const char *[]){"rollout", "status", what, "--timeout=15m", ns[0], ns[1], NULL}, NULL,
                            "kubectl: ");
    }
    if (!rc && isvc) {
        char what[96];
        snprintf(what, sizeof what, "inferenceservice/%s", isvc);
        fprintf(stderr, "waiting for %s to be ready...\n", what);
        rc = engine_cmd_run(
            &k, (const char *[]){"wait", "--for=condition=Ready", what, "--timeout=15m", ns[0], ns[1], NULL}, NULL,
            "kubectl: ");
    }
    if (!rc) {
        const char *nsf = namespace_ ? namespace_ : "";
        printf("applied; to reach /score from here: kubectl port-forward%s%s svc/%s 8080:80, then "
               "http://127.0.0.1:8080/score\n",
               namespace_ ? " -n " : "", nsf, isvc ? isvc : deployments[0]);
        if (auth)
            printf("the key: kubectl get secret%s%s %s-auth -o jsonpath='{.data.keys}' | base64 -d | head -1\n",
                   namespace_ ? " -n " : "", nsf, secret_of);
    }
    engine_cmd_release(&k);
    return rc;
}

/* --endpoint: every version's objects and the route, or with --set-traffic the route alone. */
static int run_endpoint(const struct deploy_options *o, const struct spec *spec, struct endpoint **endpoint,
                        struct deploy_files *files)
{
    char *secret = NULL, *value = NULL, *route = NULL;
    int rc = endpoint_load(endpoint, o->endpoint);
    struct endpoint *e = *endpoint;
    if (!rc && o->set_traffic) {
        if (!(rc = endpoint_set_traffic(e, o->set_traffic)) && !(rc = deploy_route_text(&route, e)) &&
            !(rc = deploy_file_replace(o->output, DEPLOY_ROUTE_FILE, route))) {
            printf("rewrote %s/%s:", o->output, DEPLOY_ROUTE_FILE);
            for (size_t i = 0; i < e->n_versions; i++)
                printf(" %s %d%%", e->versions[i].name, e->versions[i].traffic);
            printf(" (apply it with: kubectl apply -k %s)\n", o->output);
        }
        free(route);
        return rc;
    }
    if (rc || (rc = deploy_endpoint_files(files, spec, &o->req, e)))
        return rc;
    if (o->create_secret) {
        struct deploy_plan first;
        struct deploy_request vreq = o->req;
        char name[64];
        /* KServe: one InferenceService named after the endpoint, so one Secret. */
        snprintf(name, sizeof name, o->req.kserve ? "%s" : "%s-%s", e->name, e->versions[0].name);
        vreq.image = e->versions[0].image;
        vreq.name = name;
        if ((rc = deploy_plan_make(&first, spec, &vreq)) || (rc = deploy_secret_value(&value, &first)) ||
            (rc = o->req.kserve ? deploy_secret_text(&secret, &first, value)
                                : deploy_endpoint_secret_text(&secret, spec, &o->req, e, value)))
            goto done;
    }
    if ((rc = deploy_files_write(files, o->output)) || (secret && (rc = write_secret(o->create_secret, secret))))
        goto done;
    for (size_t i = 0; i < spec->deploy.n_notes; i++)
        fprintf(stderr, "note: %s\n", spec->deploy.notes[i]);
    if (o->req.kserve)
        printf("wrote %s: the InferenceService %s, its canary taking the traffic of the version that is not the "
               "default:",
               o->output, e->name);
    else
        printf("wrote %s: endpoint %s, %zu version%s behind the HTTPRoute %s:", o->output, e->name, e->n_versions,
               e->n_versions == 1 ? "" : "s", e->name);
    for (size_t i = 0; i < e->n_versions; i++)
        printf(" %s %d%%%s", e->versions[i].name, e->versions[i].traffic,
               e->versions[i].is_default ? " (default)" : "");
    printf("\n");
    if (secret)
        printf("wrote the versions' Secrets to %s (apply it with: kubectl apply -f %s)\n", o->create_secret,
               o->create_secret);
    if (o->apply) {
        char names[ENDPOINT_MAX_VERSIONS][64];
        const char *list[ENDPOINT_MAX_VERSIONS];
        for (size_t i = 0; i < e->n_versions; i++) {
            snprintf(names[i], sizeof names[i], "%s-%s", e->name, e->versions[i].name);
            list[i] = names[i];
        }
        const char *ns = o->req.namespace_ ? o->req.namespace_ : spec->deploy.namespace_;
        rc = o->req.kserve ? apply_kubectl(o, ns, list, 0, e->name, spec->service.auth_enabled, e->name)
                           : apply_kubectl(o, ns, list, e->n_versions, NULL, spec->service.auth_enabled, list[0]);
    }
    if (o->dry_run)
        rc = diff_kubectl(o);
done:
    free(secret);
    free(value);
    return rc;
}

int cmd_deploy(int argc, char **argv)
{
    struct deploy_options o = {0};
    int usage_rc = parse_options(&o, argc, argv);
    if (usage_rc)
        return usage_rc < 0 ? EXIT_OK : usage_rc;
    struct spec *spec = NULL;
    struct deploy_plan plan;
    char *secret = NULL, *secret_value = NULL;
    struct endpoint *endpoint = NULL;
    struct deploy_files files = {0};
    int rc = spec_cli_load(&spec, &o.package, o.spec_path);
    if (!rc && o.deployment_config)
        rc = spec_azure_read_deployment_config(spec, o.deployment_config);
    if (!rc && o.endpoint) {
        rc = run_endpoint(&o, spec, &endpoint, &files);
        goto done;
    }
    if (!rc && o.push) {
        /* The settings are checked before the build and push, with a stand-in digest. */
        struct reference ref;
        char stand_in[700];
        if (!(rc = reference_parse(&ref, o.push))) {
            snprintf(stand_in, sizeof stand_in, "%s/%s@sha256:%064d", ref.registry, ref.repository, 0);
            o.req.image = stand_in;
            rc = deploy_plan_make(&plan, spec, &o.req);
            o.req.image = NULL;
        }
        if (!rc)
            rc = build_and_push(&o, spec);
    }
    if (rc || (rc = deploy_plan_make(&plan, spec, &o.req)))
        goto done;
    if (o.podman && plan.auth && !o.create_secret) {
        rc = err_set(ERR_USAGE, "--target podman: the package requires authentication: give --create-secret FILE "
                                "(the Secret podman plays beside the Deployment)");
        goto done;
    }
    /* Everything that can fail on input fails before anything is written. */
    if (o.create_secret &&
        ((rc = deploy_secret_value(&secret_value, &plan)) || (rc = deploy_secret_text(&secret, &plan, secret_value))))
        goto done;
    if (o.output && (rc = deploy_write_folder(&plan, o.output)))
        goto done;
    if (secret && (rc = write_secret(o.create_secret, secret)))
        goto done;
    for (size_t i = 0; i < spec->deploy.n_notes; i++)
        fprintf(stderr, "note: %s\n", spec->deploy.notes[i]);
    if (o.output && o.req.kserve)
        printf("wrote %s: InferenceService %s/%s (replicas %d to %d)\n", o.output,
               plan.namespace_ ? plan.namespace_ : "(no namespace)", plan.name,
               plan.autoscale ? plan.min_replicas : plan.replicas, plan.autoscale ? plan.max_replicas : plan.replicas);
    else if (o.output)
        printf("wrote %s: Deployment, Service, PodDisruptionBudget%s (%s/%s, %d%s replica%s)\n", o.output,
               plan.autoscale
                   ? (o.req.autoscaler == DEPLOY_AUTOSCALER_KEDA ? ", KEDA ScaledObject" : ", HorizontalPodAutoscaler")
                   : "",
               plan.namespace_ ? plan.namespace_ : "(no namespace)", plan.name, plan.replicas,
               plan.autoscale ? "+" : "", plan.replicas == 1 && !plan.autoscale ? "" : "s");
    if (secret)
        printf("wrote the Secret %s-auth to %s (apply it with: kubectl apply -f %s)\n", plan.name, o.create_secret,
               o.create_secret);
    if (o.podman)
        rc = play_podman(&plan, secret_value, (int)o.host_port);
    if (o.apply) {
        const char *one[1] = {plan.name};
        rc = apply_kubectl(&o, plan.namespace_, one, o.req.kserve ? 0 : 1, o.req.kserve ? plan.name : NULL,
                           plan.auth != 0, plan.name);
    }
    if (o.dry_run)
        rc = diff_kubectl(&o);
done:
    deploy_files_release(&files);
    endpoint_free(endpoint);
    free(secret);
    free(secret_value);
    spec_free(spec);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
