/* Docker credential helpers (the credsStore / credHelpers of config.json):
 * `docker-credential-<name> get` reads the registry's server address on stdin
 * and prints {"ServerURL": ..., "Username": ..., "Secret": ...}.
 *
 * The helper runs with a deadline (AMLPKG_CREDENTIAL_HELPER_TIMEOUT_MS,
 * default 10000) and is killed past it; its stderr passes through to ours
 * (helpers print prompts and their own errors there), its stdout — the
 * secret — never reaches a message. */
#ifndef AMLPKG_CREDENTIAL_HELPER_H
#define AMLPKG_CREDENTIAL_HELPER_H

#include "builder/registry/registry_auth.h"

#include <stddef.h>

/* The helper's answer: out->user/pass set; "credentials not found" (the
 * protocol's message for a registry it has nothing for) leaves out empty and
 * returns 0. source names the helper and where it was configured. */
int credential_helper_parse(struct auth_creds *out, const char *reply, size_t len, const char *source);

/* Runs docker-credential-<helper> get for server; 0 with out empty when the
 * helper has nothing for it. configured_in names the config file, for errors. */
int credential_helper_get(struct auth_creds *out, const char *helper, const char *server, const char *configured_in);

#endif
