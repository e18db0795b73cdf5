/* oci_image_build with a base: the config merge rules of struct oci_base. */
#include "builder/image/oci_image.h"
#include "common/buf.h"
#include "common/err.h"
#include "test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/amlpkg-test-image-XXXXXX";

/* The config text oci_image_build writes for plan over base. */
static int build_config(struct buf *out, struct plan *plan, const struct oci_base *base)
{
    struct oci_image img;
    int rc = oci_image_build(&img, plan, base, OCI_COMPRESSION_GZIP, dir, NULL, 0, NULL);
    if (rc)
        return rc;
    rc = buf_read_file(out, img.config.path);
    unlink(img.config.path);
    unlink(img.manifest.path);
    oci_image_release(&img);
    return rc;
}

static char *env_plan[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "MODE=fast",
                           "SERVER_PORT=5001"};
static char *env_base[] = {"FOO=bar", "PATH=/opt/py/bin:/bin", "MODE=slow", "LANG=C.UTF-8"};
static struct plan_label labels_plan[] = {{"a.ours", "1"}, {"shared", "ours"}};
static struct plan_label labels_base[] = {{"shared", "base"}, {"z.base", "2"}};
static char *ports_base[] = {"8080/tcp", "5001/tcp"};
static char *history_base[] = {"{\"created_by\":\"base step\"}"};

static void init_plan(struct plan *p)
{
    memset(p, 0, sizeof *p);
    p->env = env_plan;
    p->n_env = 3;
    p->labels = labels_plan;
    p->n_labels = 2;
    p->entrypoint = "/usr/local/bin/amlserve";
    p->workdir = "/var/azureml-app";
    p->port = 5001;
    p->image_name = "t";
    p->image_tag = "1";
    p->created_text = "1970-01-01T00:00:00Z";
}

static struct oci_base base = {
    .architecture = "arm64",
    .os = "linux",
    .variant = "v8",
    .env = env_base,
    .n_env = 4,
    .user = "1000",
    .labels = labels_base,
    .n_labels = 2,
    .ports = ports_base,
    .n_ports = 2,
    .history = history_base,
    .n_history = 1,
};

TEST(merges_env_base_first_ours_winning)
{
    struct plan p;
    init_plan(&p);
    struct buf b;
    buf_init(&b, 0);
    CHECK(build_config(&b, &p, &base) == 0);
    CHECK(strstr(b.data, "\"Env\":[\"FOO=bar\",\"LANG=C.UTF-8\",\"PATH=/opt/py/bin:/bin\",\"MODE=fast\","
                         "\"SERVER_PORT=5001\"]"));
    buf_release(&b);
}

TEST(puts_the_conda_prefix_before_the_base_path)
{
    struct plan p;
    init_plan(&p);
    p.environment.conda_prefix = "/azureml-envs/azureml_k";
    struct buf b;
    buf_init(&b, 0);
    CHECK(build_config(&b, &p, &base) == 0);
    CHECK(strstr(b.data, "\"PATH=/azureml-envs/azureml_k/bin:/opt/py/bin:/bin\""));
    buf_release(&b);
}

/* A GPU plan's CUDA library path goes in front of the base's, as the GPU Dockerfile's
 * ${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} does; the spec's own value replaces the base's. */
TEST(puts_cuda_libraries_before_the_base_ones)
{
    static char *base_env[] = {"LD_LIBRARY_PATH=/opt/base/lib", "PATH=/bin"};
    static char *gpu_env[] = {"LD_LIBRARY_PATH=" PLAN_CUDA_LIBRARY_PATH};
    static char *plan_env[] = {"PATH=/bin", "LD_LIBRARY_PATH=" PLAN_CUDA_LIBRARY_PATH};
    struct oci_base b2 = base;
    b2.env = base_env;
    b2.n_env = 2;
    struct plan p;
    init_plan(&p);
    p.env = plan_env;
    p.n_env = 2;
    p.environment.gpu = 1;
    p.environment.cuda_library_path = 1;
    p.environment.env = gpu_env;
    p.environment.n_env = 1;
    struct buf b;
    buf_init(&b, 0);
    CHECK(build_config(&b, &p, &b2) == 0);
    CHECK(strstr(b.data, "\"Env\":[\"PATH=/bin\",\"LD_LIBRARY_PATH=" PLAN_CUDA_LIBRARY_PATH ":/opt/base/lib\"]"));
    buf_release(&b);
    /* Set by the spec (not ours): it wins over the base's as every variable does. */
    static char *spec_env[] = {"PATH=/bin", "LD_LIBRARY_PATH=/mine"};
    p.env = spec_env;
    p.environment.env = spec_env + 1;
    p.environment.n_spec_env = 1;
    p.environment.cuda_library_path = 0;
    buf_init(&b, 0);
    CHECK(build_config(&b, &p, &b2) == 0);
    CHECK(strstr(b.data, "\"Env\":[\"PATH=/bin\",\"LD_LIBRARY_PATH=/mine\"]"));
    buf_release(&b);
}

TEST(keeps_user_platform_labels_ports_history)
{
    struct plan p;
    init_plan(&p);
    struct buf b;
    buf_init(&b, 0);
    CHECK(build_config(&b, &p, &base) == 0);
    CHECK(strstr(b.data, "{\"architecture\":\"arm64\","));
    CHECK(strstr(b.data, "\"User\":\"1000\""));
    CHECK(strstr(b.data, "\"ExposedPorts\":{\"5001/tcp\":{},\"8080/tcp\":{}}"));
    CHECK(strstr(b.data, "\"Labels\":{\"a.ours\":\"1\",\"shared\":\"ours\",\"z.base\":\"2\"}"));
    CHECK(strstr(b.data, "\"history\":[{\"created_by\":\"base step\"}]"));
    CHECK(strstr(b.data, "\"variant\":\"v8\"}"));
    CHECK(!strstr(b.data, "\"Cmd\""));
    buf_release(&b);
}

TEST(scratch_keeps_its_config)
{
    struct plan p;
    init_plan(&p);
    struct buf b;
    buf_init(&b, 0);
    CHECK(build_config(&b, &p, NULL) == 0);
    CHECK(strstr(b.data, "\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","));
    CHECK(!strstr(b.data, "\"User\""));
    CHECK(strstr(b.data, "\"ExposedPorts\":{\"5001/tcp\":{}}"));
    CHECK(strstr(b.data, "\"os\":\"linux\""));
    buf_release(&b);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    RUN(merges_env_base_first_ours_winning);
    RUN(puts_the_conda_prefix_before_the_base_path);
    RUN(puts_cuda_libraries_before_the_base_ones);
    RUN(keeps_user_platform_labels_ports_history);
    RUN(scratch_keeps_its_config);
    rmdir(dir);
    return test_failures ? 1 : 0;
}
