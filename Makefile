# Nimbus — the two commands a newcomer needs are `make up` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
# Every target declares each module it imports (Package.swift tells the truth); CI fails otherwise.
IMPORT_CHECK := --explicit-target-dependency-import-check error
PYTHON := .venv/bin/python
BIN := .build/debug

.PHONY: deps build release protos migrations console generate check-generated test test-swift test-python fuzz up down bench-rpc bench-pg bench-compute bench-gateway bench-identity screenshots clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build $(IMPORT_CHECK) $(SWIFT_BUILD_FLAGS)

release: deps
	$(SWIFT) build -c release $(SWIFT_BUILD_FLAGS)

## Code generation: everything generated is committed; these regenerate it.
protos: deps
	scripts/gen-protos.sh

migrations:
	scripts/gen-migrations.sh

console:
	scripts/gen-console.sh

generate: protos migrations console

## Fails when committed generated code differs from a fresh generation.
check-generated: deps
	scripts/check-generated.sh

## Every test against real components (PostgreSQL, podman, grpcio …) that the tests start themselves.
test: deps check-generated build test-swift test-python fuzz

## Python-backed Swift suites are required here (no venv is a failure), and no Swift test may skip.
test-swift:
	NIMBUS_REQUIRE_PYTHON=1 $(SWIFT) test $(IMPORT_CHECK) $(SWIFT_BUILD_FLAGS) --no-parallel 2>&1 | tee .build/swift-test.log; status=$${PIPESTATUS[0]}; \
	  if grep -E '(Test|Suite) .* skipped' .build/swift-test.log; then echo "test-swift: the tests above skipped" >&2; exit 1; fi; exit $$status

## Random order (pytest-randomly; SEED=n repeats one); a skip not in Tests/python/allowed_skips.txt fails.
test-python:
	NIMBUS_BIN=$(BIN) $(PYTHON) -m pytest -q -rs -p randomly $(if $(SEED),--randomly-seed=$(SEED)) Tests/python

fuzz:
	scripts/fuzz.sh

## Refreshes the console screenshots the README shows (docs/screenshots) with a browser-suite run.
screenshots: build
	NIMBUS_BIN=$(BIN) NIMBUS_SCREENSHOTS=docs/screenshots $(PYTHON) -m pytest -q Tests/python/console

up: deps
	scripts/up.sh

down:
	scripts/down.sh

bench-rpc: deps
	Benchmarks/rpc.sh

bench-pg: deps
	Benchmarks/postgres.sh

bench-compute: deps
	Benchmarks/compute.sh

bench-gateway: deps
	Benchmarks/gateway.sh

bench-identity: deps
	Benchmarks/identity-authenticate.sh

clean:
	rm -rf .build .venv .run
