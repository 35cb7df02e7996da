# goro: the two commands that matter.
#
#   make demo    build libgoro and run the C examples
#   make test    run every test: format, lints, Rust tests, the C/C++ ctest suite,
#                the aarch64 switch test under qemu, benchmark smoke runs
#
# Other targets: build, header (regenerate include/goro.h), examples,
# ctest, bench (see BENCHMARKS.md), install (PREFIX=...), clean.

CARGO   ?= cargo
CC      ?= cc
BUILD   := build
LIBDIR  := target/release
EXAMPLES := $(patsubst c_examples/%.c,$(BUILD)/examples/%,$(wildcard c_examples/*.c))

.PHONY: all build header demo examples test rust-test loom ctest lint bench-smoke clean

all: build

build:
	$(CARGO) build --release

header:
	GORO_UPDATE_HEADER=1 $(CARGO) build --release

$(BUILD)/examples/%: c_examples/%.c include/goro.h build
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Iinclude $< -L$(LIBDIR) -Wl,-rpath,$(abspath $(LIBDIR)) -lgoro -o $@

examples: build $(EXAMPLES)

demo: examples
	@for e in $(EXAMPLES); do echo "=== $$e"; $$e || exit 1; done

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

rust-test:
	$(CARGO) test

ctest: build
	cmake -S tests/c -B $(BUILD)/ctest -DGORO_LIB_DIR=$(abspath $(LIBDIR)) >/dev/null
	cmake --build $(BUILD)/ctest -j2
	ctest --test-dir $(BUILD)/ctest --output-on-failure -j2

# Model-check the sync state machines (Mutex, RWMutex, WaitGroup, Once)
# with loom: every interleaving up to LOOM_MAX_PREEMPTIONS preemptions.
loom:
	LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
		$(CARGO) test --release --lib sync::loom_tests

bench-smoke: build
	bash bench/smoke.sh

test: lint build examples rust-test loom ctest test-install bench-smoke
	@echo "all tests passed"

clean:
	$(CARGO) clean
	rm -rf $(BUILD)

# Install into a prefix (pkg/install.sh; see docs/INSTALL.md):
#   make install PREFIX=/usr/local [DESTDIR=/staging] [libdir=...] [includedir=...]
#   make uninstall PREFIX=/usr/local [DESTDIR=...]
#   make test-install    installs into a temporary prefix and builds C/C++
#                        consumers with pkg-config, CMake, plain cc, static
PREFIX ?= /usr/local
GORO_INSTALL_ARGS = --prefix '$(PREFIX)' --destdir '$(DESTDIR)' \
	$(if $(libdir),--libdir '$(libdir)') $(if $(includedir),--includedir '$(includedir)')

.PHONY: install uninstall test-install

install: build
	sh pkg/install.sh install $(GORO_INSTALL_ARGS)

uninstall:
	sh pkg/install.sh uninstall $(GORO_INSTALL_ARGS)

test-install: build
	bash tests/install/run.sh
