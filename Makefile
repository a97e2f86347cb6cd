# The two commands a newcomer needs:  make up   and   make test
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
PGSTACK = $(BUILD_DIR)/pgstack/cli/pgstack

.PHONY: up down test build deps bench clean

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts the local stack in ./.pgstack and runs a short demo against it.
up: build
	@$(PGSTACK) up
	@scripts/demo $(PGSTACK)

down:
	@$(PGSTACK) down

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	@scripts/install-deps --bench
	@scripts/bench $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
