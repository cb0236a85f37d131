# The two commands of the README: `make run` and `make test`. Everything else is a helper.
JOBS ?= $(shell nproc)
CLI := build/src/clipembed
PYTHON := /usr/bin/python3
# The release build's parts beyond the library and the CLI, named on every configure because the
# build directory remembers the last choice.
WITH_EVERYTHING := -DCLIPEMBED_BUILD_TESTS=ON -DCLIPEMBED_BUILD_BENCH=ON -DCLIPEMBED_BUILD_PYTHON=ON
CLI_ONLY := -DCLIPEMBED_BUILD_TESTS=OFF -DCLIPEMBED_BUILD_BENCH=OFF -DCLIPEMBED_BUILD_PYTHON=OFF

.PHONY: setup build run test test-release test-scalar test-asan test-tsan bench bench-serve lint format clean

setup:
	./scripts/setup

# Every target: the library, the CLI, the tests, the benches and the Python module.
build: setup
	cmake --preset release $(WITH_EVERYTHING) >/dev/null
	cmake --build --preset release -j $(JOBS)

# Installs only what the CLI needs and builds only the CLI, then shows it on a small, really
# trained CLIP (examples/models/shapes-clip): an embedding, an index of examples/shapes, text and
# image search, zero-shot labels. The tests, benches and Python module (and the packages only they
# need: GoogleTest, Google Benchmark, pybind11, ...) are left to `make test`.
run:
	./scripts/setup --cli
	cmake --preset release $(CLI_ONLY) >/dev/null
	cmake --build --preset release -j $(JOBS) --target clipembed_cli
	./scripts/first_run

test: test-release

# The full-size ViT-B/32 (random weights, 4 s to write) lets the accuracy tests of both precisions
# and the int8 memory test run on a real-size model.
test-release: build
	./scripts/full_size_model vit-b-32
	./scripts/full_size_model vit-b-32-clip
	ctest --preset release -j $(JOBS)

# The release suite with every SIMD path forced off (CLIPEMBED_ISA=scalar), so the scalar
# references run end to end on every machine (run by CI): every test whose numbers go through
# the kernels (models, ops, images, tokenizers, the CLI, search). The transport, process and fault
# tests (server, pool, Python, the docs' snippets, install, injected faults, memory ceilings, FAISS
# tuning) compute through the same code and run in the release and sanitizer suites. Of the
# full-size ViT-B/32 tests only the saved vectors' runs here (every path gives those bits, so the
# others' accuracy bounds hold for the scalar path too): each is minutes of scalar products.
NOT_KERNEL_TESTS := 'FullSizeModelTest|ClipModelTextFullSizeTest|QuantizedFullSizeTest|Bf16FullSizeTest|Python\.|Docs\.|FaultTest|CliMemoryTest|DecodeMemoryTest|ModelPoolTest|InstallTest|SearchTuningTest|HttpServerTest|HostileClientTest|HttpRulesTest|AdmissionTest|ClientsTest|NodeClientsTest|SearchPageTest|ThumbnailsTest|ServeTest|UrlFetcherTest|HubDownloadTest|MetricsTest|AccessLogTest'
test-scalar: build
	./scripts/full_size_model vit-b-32
	./scripts/full_size_model vit-b-32-clip
	CLIPEMBED_ISA=scalar ctest --preset release -j $(JOBS) -E $(NOT_KERNEL_TESTS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer (run by CI). Sanitizer builds
# make only the test binary and the CLI it runs; the header checks and examples build with the
# release. Not the ivfpq tuning test: two minutes under ASan in FAISS's own training, which is not
# instrumented (the hnsw and flat tuning tests cover our side of it).
NOT_UNDER_ASAN := 'SearchTuningTest.*ivfpq'
test-asan: setup
	./scripts/full_size_model vit-b-32
	./scripts/full_size_model vit-b-32-clip
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS) --target clipembed_tests
	ctest --preset asan -j $(JOBS) -E $(NOT_UNDER_ASAN)

# The concurrent parts (runtime, ops split over it, pool, URL fetcher, server, the exact scan) under
# ThreadSanitizer
# (its build compiles only these suites' files: tests/CMakeLists.txt lists them);
# not the ViT-L/14 test 'Quantize' also names (run only where that model was made by hand: a
# full-size pass far too slow under TSan).
TSAN_TESTS := 'Runtime|Dense|LayerNormOp|Quantize|Attention|ModelPool|UrlFetcher|EmbedPipeline|HttpServer|HostileClient|HttpRules|Admission|Clients|HubDownload|ExactScan'
test-tsan: setup
	./scripts/full_size_model vit-b-32
	./scripts/full_size_model vit-b-32-clip
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS) --target clipembed_tests
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" ctest --test-dir build-tsan \
		--output-on-failure -j $(JOBS) -R $(TSAN_TESTS) -E VitL14

# Regenerates ViT-B/32 random weights, checks them against the reference embeddings, then prints
# clipembed's and ONNX Runtime's images/s from one run (bench/compare), and search on the lifted
# shapes collections (bench/search).
bench: build
	./scripts/setup --bench
	./bench/compare
	./bench/search
	./bench/serve_load
	$(PYTHON) bench/python_bench.py

# The HTTP server under load: 1, 8 and 64 concurrent clients, every answer checked.
bench-serve: build
	./bench/serve_load

lint:
	./scripts/lint

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-debug build-asan build-tsan
