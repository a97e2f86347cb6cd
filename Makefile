# The two commands a newcomer needs:  make up   and   make test
BUILD_DIR ?= build
# make fuzz: seconds per fuzz target (docs/testing.md#fuzzing).
FUZZ_SECONDS ?= 300
JOBS ?= $(shell nproc)
# A unity build (CMake batches a target's sources into a few translation units) halves a
# fresh build: CLI11, GoogleTest and fmt are parsed and instantiated once per batch, not
# per file. For quick incremental work: make build UNITY=OFF (docs/testing.md).
UNITY ?= ON
PGSTACK = $(BUILD_DIR)/pgstack/cli/pgstack

.PHONY: up down test fuzz build configure deps bench clean

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_UNITY_BUILD=$(UNITY) >/dev/null

# Everything: the libraries, the pgstack binary, every test and benchmark (make test).
build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts the local stack in ./.pgstack and runs a short demo against it. It builds only
# what it runs, the pgstack binary (scripts/demo uses it and psql): no test binary.
up: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target pgstack
	@$(PGSTACK) up
	@scripts/demo $(PGSTACK)

down:
	@$(PGSTACK) down

# The suites, and every fuzz target for a few seconds (scripts/fuzz --smoke). The fuzz
# run goes alongside ctest, whose tests spend much of their time waiting on servers:
# make test stays within its 15 minutes on a fresh 2-core machine. Fails if either does.
test: build
	@scripts/fuzz --smoke --build-dir $(BUILD_DIR)/fuzz > $(BUILD_DIR)/fuzz-smoke.log 2>&1 & fuzz=$$!; \
	  (cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600); suites=$$?; \
	  wait $$fuzz; fuzzing=$$?; cat $(BUILD_DIR)/fuzz-smoke.log; \
	  [ $$suites -eq 0 ] || echo "make test: the suites failed (above)"; \
	  [ $$fuzzing -eq 0 ] || echo "make test: the fuzz smoke run failed ($(BUILD_DIR)/fuzz-smoke.log)"; \
	  [ $$suites -eq 0 ] && [ $$fuzzing -eq 0 ]

# Every fuzz target for FUZZ_SECONDS: make fuzz FUZZ_SECONDS=3600
fuzz: deps
	@scripts/fuzz --seconds $(FUZZ_SECONDS) --build-dir $(BUILD_DIR)/fuzz

bench: build
	@scripts/install-deps --bench
	@scripts/bench $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
