/* WWW-Authenticate parsing, credential lookup and token replies. */
#include "builder/registry/registry_auth.h"
#include "common/err.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static int parse(struct auth_challenge *ch, const char *s)
{
    err_clear();
    return registry_auth_parse_challenge(ch, s, strlen(s));
}

TEST(bearer_challenge)
{
    struct auth_challenge ch;
    CHECK_EQ_INT(parse(&ch, "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                            "scope=\"repository:library/ubuntu:pull\""),
                 0);
    CHECK_EQ_INT(ch.scheme, AUTH_BEARER);
    CHECK_STR(ch.realm, "https://auth.docker.io/token");
    CHECK_STR(ch.service, "registry.docker.io");
    CHECK_STR(ch.scope, "repository:library/ubuntu:pull");
    CHECK_EQ_INT(parse(&ch, "bearer  realm = \"https://x/t\" , error=invalid_token, other=\"a\\\"b\""), 0);
    CHECK_STR(ch.realm, "https://x/t");
    CHECK_STR(ch.error, "invalid_token");
}

TEST(basic_challenge)
{
    struct auth_challenge ch;
    CHECK_EQ_INT(parse(&ch, "Basic realm=\"Registry Realm\""), 0);
    CHECK_EQ_INT(ch.scheme, AUTH_BASIC);
    CHECK_STR(ch.realm, "Registry Realm");
}

TEST(bad_challenges)
{
    struct auth_challenge ch;
    CHECK_EQ_INT(parse(&ch, "Negotiate abc"), ERR_UNSUPPORTED);
    CHECK_EQ_INT(parse(&ch, ""), ERR_PARSE);
    CHECK_EQ_INT(parse(&ch, "Bearer realm=\"unterminated"), ERR_PARSE);
    CHECK_EQ_INT(parse(&ch, "Bearer service=\"x\""), ERR_PARSE); /* no realm */
    CHECK_EQ_INT(parse(&ch, "Bearer realm"), ERR_PARSE);
}

TEST(creds_precedence)
{
    struct auth_creds c;
    char dir[] = "/tmp/amlpkg-auth-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/auth.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    /* "bob:pa:ss" in base64 */
    fputs("{\"auths\":{\"https://reg.example.com\":{\"auth\":\"Ym9iOnBhOnNz\"}}}", f);
    fclose(f);
    unsetenv("AMLPKG_REGISTRY_AUTH");
    setenv("REGISTRY_AUTH_FILE", path, 1);
    setenv("HOME", dir, 1);
    unsetenv("DOCKER_CONFIG");
    unsetenv("XDG_RUNTIME_DIR");
    err_clear();
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), 0);
    CHECK_STR(c.user, "bob");
    CHECK_STR(c.pass, "pa:ss");
    registry_auth_creds_release(&c);
    CHECK_EQ_INT(registry_auth_find_creds(&c, "other.example.com", NULL, NULL), 0);
    CHECK(c.user == NULL);
    setenv("AMLPKG_REGISTRY_AUTH", "env:pw", 1);
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", NULL, NULL), 0);
    CHECK_STR(c.user, "env");
    registry_auth_creds_release(&c);
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", "flag:pw", NULL), 0);
    CHECK_STR(c.user, "flag");
    CHECK_STR(c.source, "--creds");
    registry_auth_creds_release(&c);
    err_clear();
    CHECK_EQ_INT(registry_auth_find_creds(&c, "reg.example.com", "nocolon", NULL), ERR_INVALID);
    unsetenv("AMLPKG_REGISTRY_AUTH");
    unsetenv("REGISTRY_AUTH_FILE");
    remove(path);
    rmdir(dir);
}

/* The config.json "auth" entry: padding is not part of the password, a NUL
 * byte or text that is not base64 is refused. */
static int creds_from_auth(struct auth_creds *c, const char *dir, const char *auth)
{
    char path[256];
    snprintf(path, sizeof path, "%s/auth.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"auths\":{\"reg.example.com\":{\"auth\":\"%s\"}}}", auth);
    fclose(f);
    setenv("REGISTRY_AUTH_FILE", path, 1);
    err_clear();
    int rc = registry_auth_find_creds(c, "reg.example.com", NULL, NULL);
    unsetenv("REGISTRY_AUTH_FILE");
    remove(path);
    return rc;
}

TEST(auth_entry_decoding)
{
    struct auth_creds c;
    char dir[] = "/tmp/amlpkg-auth-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    unsetenv("AMLPKG_REGISTRY_AUTH");
    unsetenv("DOCKER_CONFIG");
    unsetenv("XDG_RUNTIME_DIR");
    setenv("HOME", dir, 1);
    int rc = creds_from_auth(&c, dir, "Ym9iOnB3"); /* bob:pw */
    CHECK_EQ_INT(rc, 0);
    CHECK_STR(c.pass, "pw");
    registry_auth_creds_release(&c);
    CHECK_EQ_INT(creds_from_auth(&c, dir, "Ym9iOnB3MQ=="), 0); /* bob:pw1 */
    CHECK_STR(c.pass, "pw1");
    registry_auth_creds_release(&c);
    CHECK_EQ_INT(creds_from_auth(&c, dir, "Ym9iOnB3MTI="), 0); /* bob:pw12 */
    CHECK_STR(c.user, "bob");
    CHECK_STR(c.pass, "pw12");
    registry_auth_creds_release(&c);
    CHECK_EQ_INT(creds_from_auth(&c, dir, "Ym9iOgB4"), ERR_INVALID); /* bob:\0x */
    CHECK(strstr(err_message(ERR_INVALID), "NUL byte") != NULL);
    CHECK_EQ_INT(creds_from_auth(&c, dir, "Ym9iOnB3MQ"), ERR_INVALID); /* padding left out */
    CHECK(strstr(err_message(ERR_INVALID), "not base64") != NULL);
    CHECK_EQ_INT(creds_from_auth(&c, dir, "Ym9i!nB3"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "not base64") != NULL);
    rmdir(dir);
}

TEST(basic_header_encoding)
{
    char *b = registry_auth_base64("bob:pw1", 7);
    CHECK_STR(b, "Ym9iOnB3MQ==");
    free(b);
}

TEST(token_reply)
{
    char *t = NULL;
    long exp = 0;
    const char *j = "{\"token\":\"abc\",\"expires_in\":300}";
    CHECK_EQ_INT(registry_auth_parse_token(&t, &exp, j, strlen(j)), 0);
    CHECK_STR(t, "abc");
    CHECK_EQ_INT(exp, 300);
    free(t);
    j = "{\"access_token\":\"xyz\"}";
    CHECK_EQ_INT(registry_auth_parse_token(&t, &exp, j, strlen(j)), 0);
    CHECK_STR(t, "xyz");
    free(t);
    err_clear();
    j = "{\"nothing\":1}";
    CHECK_EQ_INT(registry_auth_parse_token(&t, &exp, j, strlen(j)), ERR_PARSE);
}

int main(void)
{
    RUN(bearer_challenge);
    RUN(basic_challenge);
    RUN(bad_challenges);
    RUN(creds_precedence);
    RUN(auth_entry_decoding);
    RUN(basic_header_encoding);
    RUN(token_reply);
    return test_failures ? 1 : 0;
}
