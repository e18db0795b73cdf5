/* Pieces of the distribution API client that need no network: tags/list
 * pagination Link headers. */
#include "builder/registry/registry_blob.h"
#include "common/err.h"
#include "test.h"

static int next(char *out, size_t size, const char *link)
{
    err_clear();
    return registry_link_next(out, size, link);
}

TEST(link_next)
{
    char url[256];
    CHECK_EQ_INT(next(url, sizeof url, "</v2/team/ridge/tags/list?n=2&last=b>; rel=\"next\""), 0);
    CHECK_STR(url, "/v2/team/ridge/tags/list?n=2&last=b");
    /* Several entries, next not first, absolute URL, unquoted rel. */
    CHECK_EQ_INT(next(url, sizeof url,
                      "<https://r.example/v2/x/tags/list?last=a>; rel=\"prev\", "
                      "<https://r.example/v2/x/tags/list?last=z>; rel=next"),
                 0);
    CHECK_STR(url, "https://r.example/v2/x/tags/list?last=z");
    CHECK_EQ_INT(next(url, sizeof url, ""), 0);
    CHECK_STR(url, "");
    CHECK_EQ_INT(next(url, sizeof url, "</v2/x/tags/list?last=a>; rel=\"prev\""), 0);
    CHECK_STR(url, "");
}

TEST(link_bad)
{
    char url[16];
    CHECK_EQ_INT(next(url, sizeof url, "</v2/x/tags/list; rel=\"next\""), ERR_PARSE);
    CHECK_EQ_INT(next(url, sizeof url, "</v2/a/very/long/path/tags/list>; rel=\"next\""), ERR_LIMIT);
}

int main(void)
{
    RUN(link_next);
    RUN(link_bad);
    return test_failures ? 1 : 0;
}
