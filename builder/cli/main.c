/* amlpkg: the command table. */
#include "builder/cli/commands.h"
#include "builder/sys/suggest.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("amlpkg %s\n", AMLPKG_VERSION);
    return EXIT_OK;
}

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
    {"build", cmd_build, "compile a package spec into an OCI image archive"},
    {"package", cmd_package, "write a Dockerfile + build context (--generate-dockerfile), or build"},
    {"inspect", cmd_inspect, "show an image's digest, config and layers"},
    {"push", cmd_push, "upload an image archive or layout to a registry"},
    {"pull", cmd_pull, "download an image from a registry into an oci-archive"},
    {"copy", cmd_copy, "copy an image between registry repositories"},
    {"tags", cmd_tags, "list the tags of a registry repository"},
    {"deploy", cmd_deploy, "write a package's Kubernetes objects (kustomize folder), or play them with podman"},
    {"serve", cmd_serve, "run a package's scoring service on this host, without an image"},
    {"profile", cmd_profile, "load-test a package's service and recommend CPU, memory and replicas"},
    {"keygen", cmd_keygen, "write a signing key pair (ECDSA P-256 or Ed25519, PEM)"},
    {"sign", cmd_sign, "sign an image (registry, layout or archive) the way cosign does"},
    {"verify", cmd_verify, "check an image's cosign signatures with a public key"},
    {"hash", cmd_hash, "print the environment key of a spec"},
    {"lock", cmd_lock, "resolve a conda environment against its channels into a lock file"},
    {"cache", cmd_cache, "list, check and clean the local environment cache"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show this help, or a command's (amlpkg help COMMAND)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: amlpkg <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'amlpkg <command> --help' for a command's options.\n");
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

/* An unknown command: one line naming it, the closest command when one is close. */
static int unknown_command(const char *verb)
{
    const char *names[sizeof commands / sizeof commands[0] + 1];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        names[i] = commands[i].name;
    names[sizeof commands / sizeof commands[0]] = NULL;
    const char *close = suggest_closest(verb, names);
    if (close)
        fprintf(stderr, "amlpkg: unknown command '%s'; did you mean '%s'?\n", verb, close);
    else
        fprintf(stderr, "amlpkg: unknown command '%s'; 'amlpkg help' lists the commands\n", verb);
    return EXIT_USAGE;
}

/* amlpkg help [COMMAND]: the command list, or COMMAND's own --help. */
static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return EXIT_OK;
    }
    const struct command *c = find_command(argv[1]);
    if (!c)
        return unknown_command(argv[1]);
    char *help_argv[] = {argv[1], "--help", NULL};
    return c->run(2, help_argv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h"))
        return cmd_help(0, NULL);
    if (!strcmp(verb, "--version"))
        return cmd_version(0, NULL);
    const struct command *c = find_command(verb);
    return c ? c->run(argc - 1, argv + 1) : unknown_command(verb);
}
