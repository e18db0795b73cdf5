/* libFuzzer target: Azure ML's inferenceconfig.json and deploymentconfig.json
 * (JSON or YAML through libyaml, then our key checks). The first byte picks
 * which file the rest is; each is written to a file because the loader reads
 * paths, as the CLI does. */
#include "builder/spec/spec.h"
#include "builder/spec/spec_azure.h"
#include "common/err.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static const char *write_file(const char *kind, const char *text, size_t size)
{
    static char paths[2][96];
    char *path = paths[kind[0] == 'd'];
    snprintf(path, sizeof paths[0], "/tmp/amlpkg-fuzz-%s-%d.json", kind, (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    fwrite(text, 1, size, f);
    fclose(f);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char score[] = "/tmp/score.py";
    static const char fixed_inference[] = "{\"entryScript\": \"/tmp/score.py\"}";
    FILE *f = fopen(score, "a");
    if (f)
        fclose(f);
    if (size < 1)
        return 0;
    int deployment = data[0] & 1;
    const char *inference = deployment ? write_file("inference", fixed_inference, sizeof fixed_inference - 1)
                                       : write_file("inference", (const char *)data + 1, size - 1);
    const char *dc = deployment ? write_file("deployment", (const char *)data + 1, size - 1) : NULL;
    if (!inference || (deployment && !dc))
        return 0;
    const char *models[] = {"m:1=/tmp/score.py"};
    struct spec_azure_input in = {
        .inference_config = inference, .deployment_config = dc, .models = models, .n_models = 1};
    struct spec *spec = NULL;
    err_clear();
    if (spec_load_azure(&spec, &in) == 0)
        spec_free(spec);
    return 0;
}
