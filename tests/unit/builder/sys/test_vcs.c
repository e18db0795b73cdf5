/* Credentials never reach an image label. */
#include "builder/sys/vcs.h"
#include "test.h"

static void check_strip(const char *in, const char *want)
{
    char *got = vcs_strip_credentials(in);
    if (!got || strcmp(got, want) != 0) {
        printf("FAIL %s: strip('%s') = '%s', expected '%s'\n", test_current, in, got ? got : "(null)", want);
        test_failures++;
        test_current_failed = 1;
    }
    free(got);
}

TEST(strips_userinfo)
{
    check_strip("https://user:token@example.com/team/models.git", "https://example.com/team/models.git");
    check_strip("https://token@example.com/a.git", "https://example.com/a.git");
    check_strip("ssh://git@example.com:22/a.git", "ssh://example.com:22/a.git");
    check_strip("https://u:p@w@example.com/a.git", "https://example.com/a.git");
}

TEST(keeps_urls_without_credentials)
{
    check_strip("https://example.com/team/models.git", "https://example.com/team/models.git");
    check_strip("https://example.com/a@b.git", "https://example.com/a@b.git");
    check_strip("git@example.com:team/models.git", "git@example.com:team/models.git");
    check_strip("/srv/git/models.git", "/srv/git/models.git");
}

TEST(outside_a_repository)
{
    struct vcs_info info;
    CHECK_EQ_INT(vcs_info_read(&info, "/"), 0);
    CHECK(info.revision == NULL && info.source == NULL && !info.dirty);
    vcs_info_release(&info);
}

int main(void)
{
    RUN(strips_userinfo);
    RUN(keeps_urls_without_credentials);
    RUN(outside_a_repository);
    TEST_EXIT();
}
