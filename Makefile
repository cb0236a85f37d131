# The two commands of the README: `make run` and `make test`. Everything else is a helper.
JOBS ?= $(shell nproc)
MODEL ?= tests/fixtures/models/tiny
CLI := build/src/clipembed
PYTHON := /usr/bin/python3

.PHONY: setup build run test test-release test-asan bench lint format clean

setup:
	./scripts/setup

build: setup
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

# Embeds the sample images in examples/images with the bundled tiny model, one JSON line each.
run: build
	$(CLI) embed --model $(MODEL) --normalize examples/images/*

test: test-release

test-release: build
	ctest --preset release -j $(JOBS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer (run by CI).
test-asan: setup
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# Regenerates ViT-B/32 random weights, checks them against the reference embeddings, then prints
# clipembed's and ONNX Runtime's images/s from one run (bench/compare).
bench: build
	./scripts/setup --bench
	./bench/compare

lint:
	./scripts/lint

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-debug build-asan build-tsan
