/* Wheel installation (PEP 427) into a staged prefix, checked by the real Python: Debian's own pip wheel
 * installed and imported, its console script run, every RECORD hash recomputed by Python; a wheel made
 * here with .data scripts/headers/data; tampered, escaping and mismatched wheels refused. */
#include "builder/image/wheel_install.h"
#include "common/err.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char work[4096];

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, fmt, a, b ? b : "");
    return system(cmd);
}

static const char *debian_wheel(const char *prefix)
{
    static char path[4096];
    DIR *d = opendir("/usr/share/python-wheels");
    struct dirent *e;
    path[0] = '\0';
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            snprintf(path, sizeof path, "/usr/share/python-wheels/%s", e->d_name);
    if (d)
        closedir(d);
    return path[0] ? path : NULL;
}

/* Python recomputes every hash RECORD lists and checks the file exists. */
static const char check_record_py[] =
    "import base64,csv,hashlib,os,sys\n"
    "site=sys.argv[1]; rec=sys.argv[2]\n"
    "for row in csv.reader(open(rec)):\n"
    "    p=os.path.normpath(os.path.join(site,row[0]))\n"
    "    assert os.path.isfile(p), p\n"
    "    if row[1]:\n"
    "        h=base64.urlsafe_b64encode(hashlib.sha256(open(p,'rb').read()).digest()).rstrip(b'=').decode()\n"
    "        assert row[1]=='sha256='+h and int(row[2])==os.path.getsize(p), row\n";

TEST(debian_pip_wheel)
{
    const char *wheel = debian_wheel("pip-");
    if (!wheel) {
        printf("SKIP debian_pip_wheel: no pip wheel in /usr/share/python-wheels\n");
        return;
    }
    char prefix[4200], site[4300];
    snprintf(prefix, sizeof prefix, "%s/env1", work);
    snprintf(site, sizeof site, "%s/lib/python3.11/site-packages", prefix);
    struct wheel_install_target t = {.prefix_dir = prefix, .site_packages = "lib/python3.11/site-packages",
                                     .python = "/usr/bin/python3"};
    err_clear();
    int rc = wheel_install(wheel, NULL, NULL, &t);
    if (rc)
        printf("# %s\n", err_message(rc));
    CHECK(rc == 0);
    struct stat st;
    char path[4600];
    snprintf(path, sizeof path, "%s/bin/pip", prefix);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0755);
    CHECK(sh("head -1 '%s' | grep -qx '#!/usr/bin/python3'", path, NULL) == 0);
    CHECK(sh("cd '%s' && PYTHONPATH=. /usr/bin/python3 -c \"import importlib.metadata as m, pip, os; "
             "d = m.distribution('pip'); assert d.read_text('INSTALLER') == 'amlpkg\\n'; "
             "assert pip.__file__.startswith(os.getcwd()), pip.__file__\"",
             site, NULL) == 0);
    CHECK(sh("PYTHONPATH='%s' '%s' --version | grep -q '^pip '", site, path) == 0);
    char checker[4300], record[4600];
    snprintf(checker, sizeof checker, "%s/check_record.py", work);
    FILE *f = fopen(checker, "w");
    CHECK(f != NULL);
    fputs(check_record_py, f);
    fclose(f);
    snprintf(record, sizeof record, "%s/pip-*.dist-info/RECORD", site);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' %s", checker, site, record);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "grep -q '^../../../bin/pip,sha256=' %s && grep -Eq '^pip-[0-9.]+.dist-info/RECORD,,$' %s", record,
             record);
    CHECK(system(cmd) == 0);
}

/* A wheel written here with Python's zipfile: .data scripts (#!python), headers and data, an entry point. */
static const char make_wheel_py[] =
    "import base64,hashlib,sys,zipfile\n"
    "out=sys.argv[1]; mode=sys.argv[2]\n"
    "files={'demo/__init__.py':b'X = 1\\n',\n"
    "  'demo-1.0.data/scripts/hello':b'#!python\\nprint(\"hello\")\\n',\n"
    "  'demo-1.0.data/headers/demo.h':b'int demo;\\n',\n"
    "  'demo-1.0.data/data/share/demo/readme.txt':b'data\\n',\n"
    "  'demo-1.0.dist-info/METADATA':b'Metadata-Version: 2.1\\nName: demo\\nVersion: 1.0\\n',\n"
    "  'demo-1.0.dist-info/WHEEL':b'Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',\n"
    "  'demo-1.0.dist-info/entry_points.txt':b'[console_scripts]\\ndemo-cli = demo.cli:main.run [extra]\\n[other]\\nx = y:z\\n'}\n"
    "rec=''.join('%s,sha256=%s,%d\\n'%(n,base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode(),len(b)) for n,b in files.items())\n"
    "if mode=='tampered': files['demo/__init__.py']=b'X = 2\\n'\n"
    "if mode=='escape': files['../evil.py']=b''\n"
    "if mode=='unlisted': files['demo/extra.py']=b''\n"
    "with zipfile.ZipFile(out,'w') as z:\n"
    "    for n,b in files.items(): z.writestr(n,b)\n"
    "    z.writestr('demo-1.0.dist-info/RECORD',rec+'demo-1.0.dist-info/RECORD,,\\n')\n";

static int make_wheel(char *out, size_t size, const char *mode)
{
    char script[4300], cmd[16384];
    snprintf(script, sizeof script, "%s/make_wheel.py", work);
    FILE *f = fopen(script, "w");
    if (!f)
        return -1;
    fputs(make_wheel_py, f);
    fclose(f);
    snprintf(out, size, "%s/%s/demo-1.0-py3-none-any.whl", work, mode);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/%s && /usr/bin/python3 %s %s %s", work, mode, script, out, mode);
    return system(cmd);
}

TEST(data_scripts_and_entry_points)
{
    char wheel[4600], prefix[4200];
    CHECK(make_wheel(wheel, sizeof wheel, "good") == 0);
    snprintf(prefix, sizeof prefix, "%s/env2", work);
    struct wheel_install_target t = {.prefix_dir = prefix, .site_packages = "lib/python3.11/site-packages",
                                     .python = "/azureml-envs/azureml_k/bin/python"};
    err_clear();
    int rc = wheel_install(wheel, NULL, NULL, &t);
    if (rc)
        printf("# %s\n", err_message(rc));
    CHECK(rc == 0);
    CHECK(sh("head -1 %s/bin/hello | grep -qx '#!/azureml-envs/azureml_k/bin/python' && test -x %s/bin/hello", prefix,
             prefix) == 0);
    CHECK(sh("test -f %s/include/python3.11/demo/demo.h && test -f %s/share/demo/readme.txt", prefix, prefix) == 0);
    CHECK(sh("grep -q '^from demo.cli import main$' %s/bin/demo-cli && grep -q 'sys.exit(main.run())' %s/bin/demo-cli",
             prefix, prefix) == 0);
    CHECK(sh("test ! -e %s/bin/x && grep -q '^../../../bin/demo-cli,sha256=' "
             "%s/lib/python3.11/site-packages/demo-1.0.dist-info/RECORD",
             prefix, prefix) == 0);
    CHECK(sh("grep -q '^../../../include/python3.11/demo/demo.h,sha256=' %s/lib/python3.11/site-packages/demo-1.0.dist-info/RECORD", prefix, NULL) == 0);
}

TEST(refusals)
{
    static const struct {
        const char *mode, *message;
    } cases[] = {{"tampered", "'demo/__init__.py' does not match RECORD"},
                 {"escape", "absolute paths, '..'"},
                 {"unlisted", "'demo/extra.py' is not in RECORD"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char wheel[4600], prefix[4200];
        CHECK(make_wheel(wheel, sizeof wheel, cases[i].mode) == 0);
        snprintf(prefix, sizeof prefix, "%s/env-%s", work, cases[i].mode);
        struct wheel_install_target t = {.prefix_dir = prefix, .site_packages = "lib/python3.11/site-packages",
                                         .python = "/usr/bin/python3"};
        err_clear();
        int rc = wheel_install(wheel, NULL, NULL, &t);
        if (rc == 0 || !strstr(err_message(rc), cases[i].message))
            printf("# %s: %d %s\n", cases[i].mode, rc, err_message(rc));
        CHECK(rc != 0 && strstr(err_message(rc), cases[i].message));
    }
    char wheel[4600], prefix[4200];
    CHECK(make_wheel(wheel, sizeof wheel, "good") == 0);
    snprintf(prefix, sizeof prefix, "%s/env-sha", work);
    struct wheel_install_target t = {.prefix_dir = prefix, .site_packages = "lib/python3.11/site-packages",
                                     .python = "/usr/bin/python3"};
    err_clear();
    int rc = wheel_install(wheel, NULL, "0000000000000000000000000000000000000000000000000000000000000000", &t);
    CHECK(rc == ERR_MISMATCH && strstr(err_message(rc), "sha256 mismatch: the lock says 0000"));
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/wheel-install.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    RUN(debian_pip_wheel);
    RUN(data_scripts_and_entry_points);
    RUN(refusals);
    sh("rm -rf '%s'", work, NULL);
    return test_failures != 0;
}
