/* Docker credential helpers: the reply's JSON, running a real helper script,
 * and where credHelpers / credsStore stand in the lookup order of auth files. */
#include "builder/registry/credential_helper.h"
#include "builder/registry/registry_auth.h"
#include "common/err.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse(struct auth_creds *c, const char *reply)
{
    err_clear();
    return credential_helper_parse(c, reply, strlen(reply), "docker-credential-t");
}

TEST(reply_parsing)
{
    struct auth_creds c;
    CHECK_EQ_INT(parse(&c, "{\"ServerURL\":\"reg.example.com\",\"Username\":\"bob\",\"Secret\":\"s:3\\\"c\"}"), 0);
    CHECK_STR(c.user, "bob");
    CHECK_STR(c.pass, "s:3\"c");
    CHECK(strstr(c.source, "docker-credential-t") != NULL);
    registry_auth_creds_release(&c);
    /* An identity token: Docker's "<token>" user name, passed on as it is. */
    CHECK_EQ_INT(parse(&c, "{\"Username\":\"<token>\",\"Secret\":\"tok\"}"), 0);
    CHECK_STR(c.user, "<token>");
    registry_auth_creds_release(&c);
    CHECK_EQ_INT(parse(&c, "{\"Secret\":\"only\"}"), 0);
    CHECK_STR(c.user, "");
    registry_auth_creds_release(&c);
    CHECK_EQ_INT(parse(&c, "{\"Username\":\"bob\"}"), ERR_PARSE);
    CHECK(strstr(err_message(ERR_PARSE), "no \"Secret\"") != NULL);
    CHECK(c.user == NULL);
    CHECK_EQ_INT(parse(&c, "{\"Username\":\"bob\",\"Secret\":\"\"}"), ERR_PARSE);
    CHECK_EQ_INT(parse(&c, "{\"Username\":7,\"Secret\":\"x\"}"), ERR_PARSE);
    CHECK_EQ_INT(parse(&c, "{\"Username\":\"bob\",\"Secret\":\"a\\u0000b\"}"), ERR_PARSE);
    /* Not JSON: the message must not quote the reply (it may be the secret). */
    CHECK_EQ_INT(parse(&c, "hunter2-secret"), ERR_PARSE);
    CHECK(strstr(err_message(ERR_PARSE), "hunter2") == NULL);
    CHECK_EQ_INT(parse(&c, "[\"Secret\"]"), ERR_PARSE);
    CHECK_EQ_INT(parse(&c, ""), ERR_PARSE);
}

static char dir[] = "/tmp/amlpkg-credhelper-XXXXXX";

static void write_file(const char *name, const char *text, int mode)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, (mode_t)mode);
}

static void remove_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
}

/* A helper that answers for reg.example.com only, as the protocol says. */
static const char helper_script[] = "#!/bin/sh\n"
                                    "read -r host || true\n"
                                    "if [ \"$host\" = reg.example.com ]; then\n"
                                    "  printf '{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper-pw\"}' \"$host\"\n"
                                    "else\n"
                                    "  echo 'credentials not found in native keychain'; exit 1\n"
                                    "fi\n";

TEST(helpers_in_lookup_order)
{
    CHECK(mkdtemp(dir) != NULL);
    char path[512], auth[256];
    snprintf(path, sizeof path, "%s:%s", dir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    write_file("docker-credential-unittest", helper_script, 0755);
    write_file("docker-credential-broken", "#!/bin/sh\necho 'keychain locked'; exit 3\n", 0755);
    write_file("docker-credential-slow", "#!/bin/sh\nexec sleep 5\n", 0755);
    unsetenv("AMLPKG_REGISTRY_AUTH");
    unsetenv("REGISTRY_AUTH_FILE");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", dir, 1);
    setenv("XDG_RUNTIME_DIR", dir, 1);
    snprintf(path, sizeof path, "%s/docker", dir);
    mkdir(path, 0755);
    setenv("DOCKER_CONFIG", path, 1);
    struct auth_creds c;

    /* credsStore: the helper is asked; it has nothing for another registry. */
    write_file("docker/config.json", "{\"credsStore\":\"unittest\"}", 0644);
    err_clear();
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), 0);
    CHECK_STR(c.user, "helper-user");
    CHECK_STR(c.pass, "helper-pw");
    CHECK(strstr(c.source, "docker-credential-unittest") != NULL);
    registry_auth_creds_release(&c);
    CHECK_EQ_INT(registry_auth_find_creds(&c, "other.example.com", NULL, NULL), 0);
    CHECK(c.user == NULL);

    /* An auths entry in the same file wins over credsStore; credHelpers over both. */
    write_file("docker/config.json",
               "{\"credsStore\":\"broken\",\"auths\":{\"reg.example.com\":{\"auth\":\"Ym9iOnB3\"}}}", 0644);
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), 0);
    CHECK_STR(c.user, "bob");
    registry_auth_creds_release(&c);
    write_file("docker/config.json",
               "{\"credHelpers\":{\"reg.example.com\":\"unittest\"},\"auths\":{\"reg.example.com\":{\"auth\":\"Ym9iOnB3\"}}}",
               0644);
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), 0);
    CHECK_STR(c.user, "helper-user");
    registry_auth_creds_release(&c);

    /* The primary file comes before ~/.config/containers and the docker config. */
    snprintf(auth, sizeof auth, "%s/containers", dir);
    mkdir(auth, 0755);
    write_file("containers/auth.json", "{\"auths\":{\"reg.example.com\":{\"auth\":\"eGRnOnB3\"}}}", 0644); /* xdg:pw */
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), 0);
    CHECK_STR(c.user, "xdg");
    registry_auth_creds_release(&c);
    /* --authfile replaces the primary file; a missing one is an error. */
    write_file("explicit.json", "{\"auths\":{\"reg.example.com\":{\"auth\":\"ZXhwOnB3\"}}}", 0644); /* exp:pw */
    snprintf(auth, sizeof auth, "%s/explicit.json", dir);
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, auth), 0);
    CHECK_STR(c.user, "exp");
    registry_auth_creds_release(&c);
    snprintf(auth, sizeof auth, "%s/missing.json", dir);
    err_clear();
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, auth), ERR_NOTFOUND);
    CHECK(strstr(err_message(ERR_NOTFOUND), "--authfile") != NULL);
    remove_file("containers/auth.json");

    /* A failing helper is an error naming it and the file; a missing one says it is not on PATH. */
    write_file("docker/config.json", "{\"credHelpers\":{\"reg.example.com\":\"broken\"}}", 0644);
    err_clear();
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), ERR_IO);
    CHECK(strstr(err_message(ERR_IO), "docker-credential-broken") != NULL);
    CHECK(strstr(err_message(ERR_IO), "keychain locked") != NULL);
    CHECK(strstr(err_message(ERR_IO), "config.json") != NULL);
    write_file("docker/config.json", "{\"credsStore\":\"nosuchhelper\"}", 0644);
    err_clear();
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), ERR_NOTFOUND);
    CHECK(strstr(err_message(ERR_NOTFOUND), "docker-credential-nosuchhelper is not on PATH") != NULL);
    write_file("docker/config.json", "{\"credsStore\":\"../bin/sh\"}", 0644);
    err_clear();
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), ERR_INVALID);
    /* A helper that hangs is killed at the deadline. */
    setenv("AMLPKG_CREDENTIAL_HELPER_TIMEOUT_MS", "200", 1);
    write_file("docker/config.json", "{\"credsStore\":\"slow\"}", 0644);
    err_clear();
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), ERR_IO);
    CHECK(strstr(err_message(ERR_IO), "no answer within 200 ms") != NULL);
    unsetenv("AMLPKG_CREDENTIAL_HELPER_TIMEOUT_MS");

    remove_file("docker/config.json");
    remove_file("docker");
    remove_file("containers");
    remove_file("explicit.json");
    remove_file("docker-credential-unittest");
    remove_file("docker-credential-broken");
    remove_file("docker-credential-slow");
    rmdir(dir);
}

int main(void)
{
    RUN(reply_parsing);
    RUN(helpers_in_lookup_order);
    return test_failures ? 1 : 0;
}
