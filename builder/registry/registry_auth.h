/* Registry authentication pieces that need no network: WWW-Authenticate
 * challenge parsing, credential lookup, token-response parsing.
 *
 * Credentials come, first match wins, from --creds "user:pass", the
 * AMLPKG_REGISTRY_AUTH environment variable ("user:pass"), then the auth files
 * in containers-auth.json(5)'s order: the primary one (--authfile FILE, else
 * $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json, else
 * /run/containers/$UID/auth.json), ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json,
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json, ~/.dockercfg. In each
 * file a credHelpers entry for the registry comes first, then its "auths"
 * entry (base64 "auth"), then the credsStore helper (credential_helper.h).
 * Strings returned through out parameters are malloc'd and owned by the caller. */
#ifndef AMLPKG_REGISTRY_AUTH_H
#define AMLPKG_REGISTRY_AUTH_H

#include <stddef.h>

enum auth_scheme { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

struct auth_challenge {
    enum auth_scheme scheme;
    char realm[1024];
    char service[256];
    char scope[512];
    char error[64];
};

/* Parses one WWW-Authenticate header value (e.g. `Bearer realm="...",service="..."`).
 * Unknown schemes give ERR_UNSUPPORTED, malformed ones ERR_PARSE. */
int registry_auth_parse_challenge(struct auth_challenge *out, const char *header, size_t len);

struct auth_creds {
    char *user;
    char *pass;
    char *source; /* where they came from, for error messages */
};

/* Finds credentials for registry (host[:port]); leaves out empty (no error)
 * when there are none. given is --creds or NULL, authfile --authfile or NULL. */
int registry_auth_find_creds(struct auth_creds *out, const char *registry, const char *given, const char *authfile);
void registry_auth_creds_release(struct auth_creds *c);

/* Splits "user:pass" (the password may contain ':'). */
int registry_auth_split_creds(struct auth_creds *out, const char *text, const char *source);

/* "token" (or "access_token") and "expires_in" from a token endpoint reply. */
int registry_auth_parse_token(char **out_token, long *out_expires_in, const char *json, size_t len);

/* Base64 of data (malloc'd) — for the Basic Authorization header. */
char *registry_auth_base64(const char *data, size_t len);

#endif
