/* Which environment steps reach the network: installs from an index, a
 * channel or a mirror, downloads and clones are named; offline steps are not. */
#include "builder/env/env_network.h"
#include "test.h"

#include <string.h>

TEST(network_steps_are_named)
{
    static const char *const yes[][2] = {
        {"RUN pip install numpy==1.26.4", "pip"},
        {"RUN /usr/local/bin/pip3 install -r requirements.txt", "pip"},
        {"RUN python -m pip install --upgrade pip", "pip"},
        {"RUN apt-get update && apt-get install -y libgomp1", "apt-get"},
        {"RUN apk add --no-cache curl", "apk"},
        {"RUN dnf install -y gcc", "package manager"},
        {"RUN conda install -y -c conda-forge lightgbm", "conda"},
        {"RUN micromamba create -y -n env python=3.11", "conda"},
        {"RUN npm ci", "npm"},
        {"RUN curl -fsSL https://example.com/x.tgz | tar xz", "curl"},
        {"RUN cd /src; wget -q http://example.com/f", "curl"},
        {"RUN git clone https://github.com/example/repo /repo", "git"},
        {"ADD https://example.com/model.bin /models/", "ADD"},
        {"RUN set -e; \\\n  echo start && \\\n  pip install torch", "pip"},
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        const char *why = env_network_reason(yes[i][0]);
        CHECK(why != NULL);
        CHECK(strstr(why, yes[i][1]) != NULL);
    }
}

TEST(offline_steps_are_not)
{
    static const char *const no[] = {
        "RUN mkdir -p /opt/app && echo hello > /opt/app/x",
        "ENV PIP_NO_CACHE_DIR=1",
        "RUN pip install --no-index --find-links /wheels numpy",
        "RUN pip list",
        "RUN conda clean -aqy",
        "COPY requirements.txt /tmp/",
        "ADD local.tar.gz /opt/",
        "",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK(env_network_reason(no[i]) == NULL);
}

int main(void)
{
    RUN(network_steps_are_named);
    RUN(offline_steps_are_not);
    TEST_EXIT();
}
