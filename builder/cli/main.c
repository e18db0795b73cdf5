/* amlpkg: the command table. */
#include "builder/cli/commands.h"

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
    {"serve", cmd_serve, "run a package's scoring service on this host, without an image"},
    {"profile", cmd_profile, "load-test a package's service and recommend CPU, memory and replicas"},
    {"hash", cmd_hash, "print the environment key of a spec"},
    {"lock", cmd_lock, "resolve a conda environment against its channels into a lock file"},
    {"cache", cmd_cache, "list, check and clean the local environment cache"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show this help"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: amlpkg <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'amlpkg <command> --help' for a command's options.\n");
}

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return EXIT_OK;
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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, verb))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "amlpkg: unknown command '%s'\n", verb);
    usage(stderr);
    return EXIT_USAGE;
}
