/* Simple repository pages (PEP 503 HTML with PEP 658/714 and PEP 592 attributes, PEP 691 JSON), URL
 * joining, and wheel METADATA. */
#include "builder/env/pip_index.h"
#include "builder/env/wheel_metadata.h"
#include "common/err.h"
#include "test.h"

#define H64A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H64B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

TEST(html_page)
{
    const char *page = "<!DOCTYPE html><html><body>\n"
                       "<A HREF=\"../../files/six-1.16.0-py2.py3-none-any.whl#sha256=" H64A "\" "
                       "data-requires-python=\"&gt;=2.7, !=3.0.*\" data-core-metadata=\"sha256=" H64B "\">"
                       "six-1.16.0-py2.py3-none-any.whl</a><br/>\n"
                       "<a href='https://other.example/six-1.15.0.tar.gz' data-yanked>  six-1.15.0.tar.gz </a>\n"
                       "<a href=/abs/six-1.0-py3-none-any.whl?x=1&amp;y=2></a>\n"
                       "<a>no href</a><a href=\"#\">#</a>\n</body></html>";
    struct pip_project p = {0};
    CHECK(!pip_index_parse_html(&p, page, strlen(page), "https://idx.example/simple/six/", "t"));
    CHECK_EQ_INT(p.n_files, 3);
    CHECK_STR(p.files[0].filename, "six-1.16.0-py2.py3-none-any.whl");
    CHECK_STR(p.files[0].url, "https://idx.example/files/six-1.16.0-py2.py3-none-any.whl");
    CHECK_STR(p.files[0].sha256, H64A);
    CHECK_STR(p.files[0].requires_python, ">=2.7, !=3.0.*");
    CHECK(p.files[0].has_metadata && !strcmp(p.files[0].metadata_sha256, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"));
    CHECK(!p.files[0].yanked);
    CHECK_STR(p.files[1].filename, "six-1.15.0.tar.gz");
    CHECK(p.files[1].yanked && !p.files[1].sha256[0] && !p.files[1].has_metadata);
    CHECK_STR(p.files[2].filename, "six-1.0-py3-none-any.whl");
    CHECK_STR(p.files[2].url, "https://idx.example/abs/six-1.0-py3-none-any.whl?x=1&y=2");
    pip_project_release(&p);
    const char *base = "<base href=\"https://cdn.example/pkgs/\"><a href=\"x-1.0-py3-none-any.whl\">x-1.0-py3-none-any.whl</a>";
    CHECK(!pip_index_parse_html(&p, base, strlen(base), "https://idx.example/simple/x/", "t"));
    CHECK(p.n_files == 1 && !strcmp(p.files[0].url, "https://cdn.example/pkgs/x-1.0-py3-none-any.whl"));
    pip_project_release(&p);
    const char *broken = "<a href=\"x\n";
    err_clear();
    CHECK(pip_index_parse_html(&p, broken, strlen(broken), "https://i/", "page.html") == ERR_PARSE);
    CHECK(strstr(err_message(0), "page.html:1: an <a> tag is never closed") != NULL);
    pip_project_release(&p);
}

TEST(json_page)
{
    const char *page = "{\"meta\": {\"api-version\": \"1.1\"}, \"name\": \"six\", \"files\": ["
                       "{\"filename\": \"six-1.16.0-py2.py3-none-any.whl\", \"url\": \"../../f/six-1.16.0-py2.py3-none-any.whl\","
                       " \"hashes\": {\"sha256\": \"" H64A "\", \"md5\": \"x\"}, \"requires-python\": \">=3\","
                       " \"core-metadata\": {\"sha256\": \"" H64B "\"}, \"yanked\": \"broken\"},"
                       "{\"filename\": \"six-1.0.tar.gz\", \"url\": \"https://o/six-1.0.tar.gz\", \"hashes\": {},"
                       " \"dist-info-metadata\": true}]}";
    struct pip_project p = {0};
    CHECK(!pip_index_parse_json(&p, page, strlen(page), "http://127.0.0.1:8/simple/six/", "t"));
    CHECK_EQ_INT(p.n_files, 2);
    CHECK_STR(p.files[0].url, "http://127.0.0.1:8/f/six-1.16.0-py2.py3-none-any.whl");
    CHECK_STR(p.files[0].sha256, H64A);
    CHECK(p.files[0].yanked && p.files[0].has_metadata && p.files[0].metadata_sha256[0] == 'b');
    CHECK(p.files[1].has_metadata && !p.files[1].yanked && !p.files[1].sha256[0]);
    pip_project_release(&p);
    const char *bad = "{\"files\": [{\"filename\": 3}]}";
    err_clear();
    CHECK(pip_index_parse_json(&p, bad, strlen(bad), "http://i/", "j.json") == ERR_PARSE);
    CHECK(strstr(err_message(0), "j.json:1:") != NULL);
    pip_project_release(&p);
}

TEST(join)
{
    static const char *const cases[][3] = {
        {"http://h:1/simple/a/", "../../files/a.whl#sha256=1", "http://h:1/files/a.whl"},
        {"http://h/simple/a", "b.whl", "http://h/simple/b.whl"},
        {"http://h/s/", "/x/./y/../z.whl", "http://h/x/z.whl"},
        {"file:///srv/idx/simple/p/", "../../f/a.whl", "file:///srv/idx/f/a.whl"},
        {"http://h/s/", "HTTPS://o/x#y", "HTTPS://o/x"},
        {"http://h", "../../a", "http://h/a"},
        {"https://h/s/", "//cdn/x.whl", "https://cdn/x.whl"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *u = pip_index_join_url(cases[i][0], cases[i][1]);
        int ok = u && !strcmp(u, cases[i][2]);
        if (!ok)
            printf("# join('%s', '%s') = '%s'\n", cases[i][0], cases[i][1], u ? u : "(null)");
        free(u);
        CHECK(ok);
    }
}

TEST(metadata)
{
    const char *text = "Metadata-Version: 2.1\r\nName: Alpha_X\nVersion: 2.0\nRequires-Python: >=3.8\n"
                       "Requires-Dist: beta (>=1.1)\nRequires-Dist: gamma ;\n   extra == \"fast\"\n"
                       "Provides-Extra: fast\n\nRequires-Dist: not-a-field (the description)\n";
    struct wheel_metadata m = {0};
    CHECK(!wheel_metadata_parse(&m, text, strlen(text), "t"));
    CHECK_STR(m.name, "Alpha_X");
    CHECK_STR(m.version, "2.0");
    CHECK_STR(m.requires_python, ">=3.8");
    CHECK_EQ_INT(m.n_requires_dist, 2);
    CHECK_STR(m.requires_dist[1], "gamma ; extra == \"fast\"");
    wheel_metadata_release(&m);
    const char *bad = "Name: a\nno colon here\n";
    err_clear();
    CHECK(wheel_metadata_parse(&m, bad, strlen(bad), "M") == ERR_PARSE);
    CHECK(strstr(err_message(0), "M:2:") != NULL);
}

int main(void)
{
    RUN(html_page);
    RUN(json_page);
    RUN(join);
    RUN(metadata);
    return test_failures != 0;
}
