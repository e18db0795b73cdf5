# amlpkg — see README.md and docs/architecture.md. Targets: all (build only), deps, test, check-layers,
# asan, fuzz, bench, install, demo, clean, golden, example-model, conformance, conformance-baseline.
# Outputs go under $(BUILD) (build/ by default; build-asan/ for `make asan`).

BUILD    ?= build
PREFIX   ?= /usr/local
CC       ?= cc
OPT      ?= -O2
SANITIZE ?=
# amlserve is linked fully static unless sanitizers are on (they need the dynamic runtime).
STATIC   ?= $(if $(SANITIZE),,-static)

PKGS     := yaml-0.1 libarchive openssl libcurl libgit2 sqlite3 libdeflate libsolv
WARN     := -Wall -Wextra -Werror
CFLAGS_ALL = -std=c17 -D_GNU_SOURCE $(OPT) -g $(WARN) $(SANITIZE) -I. -I$(BUILD)/gen $(CFLAGS)
LDFLAGS_ALL = $(SANITIZE) $(LDFLAGS)

GEN_PROTO := $(BUILD)/gen/onnx.pb-c.c
ONNX_PROTO ?= /usr/include/onnx/onnx.proto

# The layers, each a library; the link enforces who may use whom (docs/architecture.md,
# `make check-layers`): amlpkg links common + cache + engine, amlserve common + engine + server.
COMMON_SRC  := $(wildcard common/*.c)
ENGINE_SRC  := $(wildcard runtime/engine/*.c runtime/engine/ops/*.c runtime/engine/backends/*.c)
SERVER_SRC  := $(filter-out runtime/amlserve.c runtime/no_resolver.c,$(wildcard runtime/*.c))
CACHE_SRC   := $(wildcard cache/*.c)
# openssl_lazy.c goes into amlpkg only: everything else linking libamlpkg.a links OpenSSL itself.
BUILDER_SRC := $(filter-out builder/cli/main.c builder/sys/openssl_lazy.c,$(wildcard builder/*/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ  := $(call obj,$(COMMON_SRC))
ENGINE_OBJ  := $(call obj,$(ENGINE_SRC)) $(BUILD)/obj/gen/onnx.pb-c.o
SERVER_OBJ  := $(call obj,$(SERVER_SRC)) $(BUILD)/obj/gen/worker_shim.o
CACHE_OBJ   := $(call obj,$(CACHE_SRC))
BUILDER_OBJ := $(call obj,$(BUILDER_SRC)) $(BUILD)/obj/gen/dockerfile_template.o $(BUILD)/obj/gen/dockerfile_gpu_template.o \
               $(BUILD)/obj/gen/sklearn_modules.o
# The scikit-learn converter's Python modules, embedded in amlpkg (builder/image/sklearn_convert.h).
SKLEARN_PY  := $(sort $(wildcard builder/image/sklearn/*.py))

COMMON_LIB  := $(BUILD)/lib/libamlcommon.a
ENGINE_LIB  := $(BUILD)/lib/libamlengine.a
SERVER_LIB  := $(BUILD)/lib/libamlserve.a
CACHE_LIB   := $(BUILD)/lib/libamlcache.a
BUILDER_LIB := $(BUILD)/lib/libamlpkg.a
# In link order: a library before the ones it uses.
AMLPKG_LIBS   := $(BUILDER_LIB) $(CACHE_LIB) $(ENGINE_LIB) $(COMMON_LIB)
AMLSERVE_LIBS := $(SERVER_LIB) $(ENGINE_LIB) $(COMMON_LIB)
ALL_LIBS      := $(BUILDER_LIB) $(CACHE_LIB) $(SERVER_LIB) $(ENGINE_LIB) $(COMMON_LIB)

# The one version of amlpkg and amlserve; $(BUILD)/gen/version.h carries it into the code.
VERSION := 0.1.0

# libcurl, libgit2, libarchive and libsolv (and the ~50 libraries they pull in) are loaded on first use, not
# at start-up: builder/sys/lazy_lib.h. amlpkg is not linked against them; it dlopens the soname this
# build saw. Tests that call libarchive themselves link it (TEST_LIBS).
LAZY_PKGS    := libcurl libgit2 libarchive libsolv
# Nor against OpenSSL: SHA-256 and base64 are its own (common/sha256.c, common/base64.c), and
# libcrypto is loaded only to check a spec's TLS pair (common/tls_pem.c) and to sign and verify
# (builder/trust/), through builder/sys/openssl_lazy.c, which saves loading and relocating it on
# every start. libcurl brings
# OpenSSL along when it is loaded.
BUILDER_LIBS = $(shell pkg-config --libs $(filter-out $(LAZY_PKGS) openssl,$(PKGS))) -lprotobuf-c -lm -lpthread
soname_of    = $(shell objdump -p $$($(CC) -print-file-name=$(1)) 2>/dev/null | awk '/SONAME/ {print $$2}')
$(BUILD)/obj/builder/sys/curl_lazy.o: CFLAGS += -DAMLPKG_CURL_SONAME='"$(call soname_of,libcurl.so)"'
$(BUILD)/obj/builder/sys/git2_lazy.o: CFLAGS += -DAMLPKG_GIT2_SONAME='"$(call soname_of,libgit2.so)"'
$(BUILD)/obj/builder/sys/archive_lazy.o: CFLAGS += -DAMLPKG_ARCHIVE_SONAME='"$(call soname_of,libarchive.so)"'
$(BUILD)/obj/builder/sys/solv_lazy.o: CFLAGS += -DAMLPKG_SOLV_SONAME='"$(call soname_of,libsolv.so)"'
$(BUILD)/obj/builder/sys/openssl_lazy.o: CFLAGS += -DAMLPKG_CRYPTO_SONAME='"$(call soname_of,libcrypto.so)"'
# Unit tests link libarchive (tests that read archives) and OpenSSL: the TLS tests, and the oracle
# the SHA-256 and base64 tests compare with.
OPENSSL_LIBS = $(shell pkg-config --libs openssl)
TEST_LIBS    = $(BUILDER_LIBS) $(shell pkg-config --libs libarchive) $(OPENSSL_LIBS)

# OpenSSL for TLS termination, its static archives even in dynamic (sanitizer) builds. OpenSSL
# references the name resolver and dlopen from code amlserve never runs: amlserve's link points
# those references at runtime/no_resolver.c, so neither is linked.
NO_RESOLVER := -Wl,--wrap=getaddrinfo,--wrap=freeaddrinfo,--wrap=gethostbyname,--wrap=dlopen
RUNTIME_LIBS = -l:libhttp_parser.a -l:libprotobuf-c.a -l:libssl.a -l:libcrypto.a -lm -lpthread

# The CUDA backend's kernels: built where nvcc exists and linked (with static cudart) into the backend
# test; everything else sees the backend as not built (weak symbols). amlserve links them only with
# `make AMLSERVE_CUDA=1`: the driver is a shared library that cudart loads with dlopen, so that
# amlserve keeps dlopen (NO_RESOLVER without its dlopen stand-in) and the default one stays free of it.
CUDA_HOME ?= /usr/local/cuda
NVCC      ?= $(CUDA_HOME)/bin/nvcc
CUDA_ARCH ?= -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
             -gencode arch=compute_90,code=[sm_90,compute_90]
HAVE_CUDA := $(if $(wildcard $(NVCC)),1,)
CUDA_OBJ  := $(if $(HAVE_CUDA),$(BUILD)/obj/runtime/engine/backends/cuda_kernels.o,)
CUDA_LIBS := $(if $(HAVE_CUDA),-L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -l:libstdc++.a,)
AMLSERVE_CUDA ?=
SERVE_CUDA := $(if $(and $(HAVE_CUDA),$(AMLSERVE_CUDA)),1,)
NO_RESOLVER_CUDA := -Wl,--wrap=getaddrinfo,--wrap=freeaddrinfo,--wrap=gethostbyname

UNIT_SRC  := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all deps build check-layers test asan fuzz bench soak install demo clean example-model golden conformance conformance-baseline
.DEFAULT_GOAL := all

# Plain `make` builds only: installing packages is `make deps`, which test, demo and bench run first.
all: build

CONFORMANCE_BIN := $(BUILD)/tests/conformance/onnx_node_runner

build: $(BUILD)/bin/amlpkg $(BUILD)/bin/amlserve $(UNIT_BIN) $(CONFORMANCE_BIN)

deps:
	@bash .ci/install-deps

$(GEN_PROTO): $(ONNX_PROTO)
	@mkdir -p $(dir $@)
	cp $(ONNX_PROTO) $(BUILD)/gen/onnx.proto
	cd $(BUILD)/gen && protoc-c --c_out=. onnx.proto

# Generated code is not ours to fix: compile it without our warning set.
$(BUILD)/obj/gen/onnx.pb-c.o: $(GEN_PROTO)
	@mkdir -p $(dir $@)
	$(CC) -std=c17 $(OPT) -g $(SANITIZE) -w -I$(BUILD)/gen -c $< -o $@

# The version, from one place (VERSION above).
$(BUILD)/gen/version.h: Makefile
	@mkdir -p $(dir $@)
	@printf '#define AMLPKG_VERSION "%s"\n' '$(VERSION)' > $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

# The Python worker shim and its stand-in modules travel inside amlserve as strings.
$(BUILD)/gen/worker_shim.c: templates/amlserve_compat.py templates/amlserve_worker.py runtime/embed_text.sh
	@mkdir -p $(dir $@)
	bash runtime/embed_text.sh templates/amlserve_compat.py amlserve_compat_py > $@.tmp
	bash runtime/embed_text.sh templates/amlserve_worker.py amlserve_worker_py >> $@.tmp && mv $@.tmp $@

# The Dockerfile templates (CPU, GPU) travel inside amlpkg the same way.
$(BUILD)/gen/dockerfile_template.c: templates/Dockerfile.in runtime/embed_text.sh
	@mkdir -p $(dir $@)
	bash runtime/embed_text.sh $< dockerfile_template > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/dockerfile_gpu_template.c: templates/Dockerfile.gpu.in runtime/embed_text.sh
	@mkdir -p $(dir $@)
	bash runtime/embed_text.sh $< dockerfile_gpu_template > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/sklearn_modules.c: $(SKLEARN_PY) builder/image/sklearn/embed.sh
	@mkdir -p $(dir $@)
	bash builder/image/sklearn/embed.sh $(SKLEARN_PY) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/sklearn_modules.o: $(BUILD)/gen/sklearn_modules.c builder/image/sklearn_convert.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/gen/dockerfile_template.o: $(BUILD)/gen/dockerfile_template.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/gen/dockerfile_gpu_template.o: $(BUILD)/gen/dockerfile_gpu_template.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/gen/worker_shim.o: $(BUILD)/gen/worker_shim.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/%.o: %.c $(GEN_PROTO) | $(BUILD)/gen/version.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(COMMON_LIB): $(COMMON_OBJ)
$(ENGINE_LIB): $(ENGINE_OBJ)
$(SERVER_LIB): $(SERVER_OBJ)
$(CACHE_LIB): $(CACHE_OBJ)
$(BUILDER_LIB): $(BUILDER_OBJ)
$(ALL_LIBS):
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# What amlserve links statically, with Debian's package versions, for the SBOM (amlpkg reads it back
# from the binary). Regenerated when the packages change.
# With the CUDA backend, libstdc++ (which static cudart needs) is linked in too; cudart itself is
# NVIDIA's, not a Debian package, so it is not listed here.
BUILD_INFO_PKGS := libc6-dev libhttp-parser-dev libprotobuf-c-dev libssl-dev \
  $(if $(SERVE_CUDA),$(shell dpkg -S $$($(CC) -print-file-name=libstdc++.a) 2>/dev/null | cut -d: -f1))
$(BUILD)/gen/build_info.h: $(wildcard /var/lib/dpkg/status) Makefile
	@mkdir -p $(dir $@)
	@{ printf '#define AMLSERVE_BUILD_INFO "{'; sep=; for p in $(BUILD_INFO_PKGS); do \
	    v=$$(dpkg-query -W -f='$${Version}' $$p 2>/dev/null || echo unknown); \
	    printf '%s\\"%s\\":\\"%s\\"' "$$sep" "$$p" "$$v"; sep=,; done; printf '}"\n'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/runtime/amlserve.o: $(BUILD)/gen/build_info.h

$(BUILD)/obj/runtime/engine/backends/cuda_kernels.o: runtime/engine/backends/cuda_kernels.cu runtime/engine/backends/cuda_kernels.h
	@mkdir -p $(dir $@)
	$(NVCC) -O2 $(CUDA_ARCH) -I. -Xcompiler -Wall -c $< -o $@

# Every image embeds amlserve: it is stripped, its debug information kept beside it in
# amlserve.debug (found by gdb and addr2line through the debug link). Sanitizer builds stay whole.
$(BUILD)/bin/amlserve: $(BUILD)/obj/runtime/amlserve.o $(BUILD)/obj/runtime/no_resolver.o \
                       $(if $(SERVE_CUDA),$(CUDA_OBJ)) $(AMLSERVE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(STATIC) $(LDFLAGS_ALL) $(if $(SERVE_CUDA),$(NO_RESOLVER_CUDA),$(NO_RESOLVER)) -o $@.tmp $^ $(RUNTIME_LIBS) \
	  $(if $(SERVE_CUDA),$(CUDA_LIBS))
	$(if $(SANITIZE),,objcopy --only-keep-debug $@.tmp $@.debug && \
	  objcopy --strip-all --add-gnu-debuglink=$@.debug $@.tmp)
	mv $@.tmp $@

$(BUILD)/bin/amlpkg: $(BUILD)/obj/builder/cli/main.o $(BUILD)/obj/builder/sys/openssl_lazy.o $(AMLPKG_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(BUILDER_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(ALL_LIBS) tests/unit/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(TEST_CUDA) $(ALL_LIBS) $(LDFLAGS_ALL) $(TEST_LIBS) -l:libhttp_parser.a $(TEST_CUDA_LIBS)

# The backend test runs the CUDA kernels too where they are built (and skips them without a GPU).
$(BUILD)/tests/unit/runtime/engine/test_backends: $(CUDA_OBJ)
$(BUILD)/tests/unit/runtime/engine/test_backends: TEST_CUDA = $(CUDA_OBJ)
$(BUILD)/tests/unit/runtime/engine/test_backends: TEST_CUDA_LIBS = $(CUDA_LIBS)

# Runs ONNX backend test cases (Debian's libonnx-testdata) through the engine.
$(CONFORMANCE_BIN): tests/conformance/onnx_node_runner.c $(ENGINE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(ENGINE_LIB) $(COMMON_LIB) $(LDFLAGS_ALL) $(RUNTIME_LIBS)

# SHA-256 benchmark (tests/bench/sha256.sh): ours against OpenSSL's, the yardstick.
SHA256_BENCH := $(BUILD)/tests/bench/sha256_bench
$(SHA256_BENCH): tests/bench/sha256_bench.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(COMMON_LIB) $(LDFLAGS_ALL) $(OPENSSL_LIBS)

# Engine benchmark (tests/bench/gemm.sh): the only program linked to OpenBLAS, as the yardstick.
ENGINE_BENCH := $(BUILD)/tests/bench/engine_bench
$(ENGINE_BENCH): tests/bench/engine_bench.c $(ENGINE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $$(pkg-config --cflags openblas) -o $@ $< $(ENGINE_LIB) $(COMMON_LIB) $(LDFLAGS_ALL) \
	  $$(pkg-config --libs openblas) $(RUNTIME_LIBS)

# The engine against ONNX Runtime (tests/bench/ort.sh), which it dlopens from npm's onnxruntime-node.
ORT_BENCH := $(BUILD)/tests/bench/ort_bench
$(ORT_BENCH): tests/bench/ort_bench.c $(ENGINE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(ENGINE_LIB) $(COMMON_LIB) $(LDFLAGS_ALL) $(RUNTIME_LIBS) -ldl

# Every ONNX backend test case of libonnx-testdata, checked against tests/conformance/baseline.txt.
conformance: build
	@BUILD=$(BUILD) bash tests/conformance/run.sh

# Records improved conformance counts in the baseline (review the diff, then commit it).
conformance-baseline: build
	@BUILD=$(BUILD) bash tests/conformance/run.sh --update

test: deps
	@$(MAKE) --no-print-directory build
	@BUILD=$(BUILD) bash tests/run.sh

# The dependency rules of docs/architecture.md, on the includes and on the built libraries.
check-layers: build
	@BUILD=$(BUILD) bash tests/layers/01-check-layers.sh

# Unit and CLI tests with AddressSanitizer + UBSan (amlserve linked dynamically for it).
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" build
	@BUILD=build-asan AMLPKG_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp UBSAN_OPTIONS=print_stacktrace=1 \
	  TEST_SUITES="unit cli" bash tests/run.sh

# libFuzzer targets, each run for FUZZ_SECONDS against its seed corpus.
FUZZ_SECONDS ?= 60
fuzz: deps
	@BUILD=build-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

# One amlserve under mixed legitimate and hostile traffic for SOAK_MINUTES (30), RSS and counts each minute.
SOAK_MINUTES ?= 30
soak: deps
	@$(MAKE) --no-print-directory build
	@BUILD=$(BUILD) SOAK_MINUTES=$(SOAK_MINUTES) bash tests/bench/soak.sh

bench: deps
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory $(ENGINE_BENCH) $(SHA256_BENCH) $(ORT_BENCH)
	@BUILD=$(BUILD) bash tests/bench/run.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/bin/amlpkg $(BUILD)/bin/amlserve $(DESTDIR)$(PREFIX)/bin/

demo: deps
	@$(MAKE) --no-print-directory build
	@BUILD=$(BUILD) bash examples/demo.sh

# Regenerates the committed example model (needs python3-onnx and python3-numpy).
example-model:
	/usr/bin/python3 examples/onnx-ridge/make_model.py examples/onnx-ridge

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Regenerates the golden files the emitter tests compare against (review the diff before committing).
golden: all
	rm -rf $(BUILD)/golden && SOURCE_DATE_EPOCH=0 $(BUILD)/bin/amlpkg package examples/onnx-ridge/spec.yaml \
	  --generate-dockerfile $(BUILD)/golden >/dev/null && cp $(BUILD)/golden/Dockerfile tests/cli/golden/onnx-ridge.Dockerfile
	rm -rf $(BUILD)/golden && SOURCE_DATE_EPOCH=0 $(BUILD)/bin/amlpkg build examples/azureml-conda/spec.yaml \
	  --dockerfile $(BUILD)/golden >/dev/null && cp $(BUILD)/golden/Dockerfile tests/cli/golden/azureml-conda.Dockerfile
	rm -rf $(BUILD)/golden && SOURCE_DATE_EPOCH=0 $(BUILD)/bin/amlpkg build examples/gpu-ridge/spec.yaml \
	  --dockerfile $(BUILD)/golden >/dev/null && cp $(BUILD)/golden/Dockerfile tests/cli/golden/gpu-ridge.Dockerfile
	rm -rf tests/cli/golden/deploy && mkdir -p tests/cli/golden/deploy && ROOT=$(CURDIR) AMLPKG=$(CURDIR)/$(BUILD)/bin/amlpkg \
	  bash -c '. tests/cli/deploy/cases.sh && for c in $$DEPLOY_CASES; do deploy_case $$c tests/cli/golden/deploy/$$c >/dev/null 2>&1 || exit 1; done'
