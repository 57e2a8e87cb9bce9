# The README's two commands.
#   make demo   install what is missing, build Release into build/, run the main job
#   make test   build and run the whole test suite through ctest
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: demo test build deps format-check clean sanitize-thread sanitize-address fuzz

deps:
	scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/paraxis demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# Sanitizer builds (separate build dirs). TSan builds and runs only the communicator's threads-backend tests
# (target paraxis_comm_tests: src/comm, src/core, tests/comm): oneDNN and
# OpenMP are not TSan-instrumented and report false races. ASan+UBSan runs the unit tests (the gtest binary:
# kernels, layers, goldens, equivalence, collectives, schedules, trace) as 8 gtest shards, 2 at a time, not one
# process per test: an instrumented process takes 1-2 s to start, more than most tests (ctest: 520 s for the
# 445 tests in a CI run). The CLI, example and MPI entries, and the report's browser tests (they run the CLI,
# which the ASan build does not compile; the report is rendered in-process under ASan by report_waiting_test),
# run in `make test`.
SAN_TEST_FLAGS = --output-on-failure -j $(JOBS) --timeout 900
# AlexNet's trainings (57 M parameters; ~8 s each in Release, minutes at -O0 with ASan) run in `make test` only.
ASAN_GTEST_FILTER = -HtmlReport.*:SpatialEquivalence.AlexNet*:ImageModels.AlexNetAtSmallImages

sanitize-thread:
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARAXIS_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS) --target paraxis_comm_tests
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1" ctest $(SAN_TEST_FLAGS) -R '^(ThreadsComm|CommFailure)'

sanitize-address:
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARAXIS_SANITIZE=address
	cmake --build build-asan -j $(JOBS) --target paraxis_tests
	UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" scripts/run-gtest-shards build-asan/paraxis_tests 8 \
	  $(JOBS) '$(ASAN_GTEST_FILTER)' 1800

# libFuzzer harnesses of every parser (tests/fuzz/; docs/architecture.md, "Fuzzing"): a clang-14 build of only
# the parsers' sources, with ASan+UBSan, into build-fuzz/; then each harness runs FUZZ_SECONDS on a copy of its
# seed corpus (tests/fuzz/corpus/NAME). Fails when any finds a crash, a sanitizer report, an error other than a
# user error (exit 2), or a hang; the input is left in build-fuzz/artifacts/NAME/.
FUZZ_SECONDS ?= 20
FUZZ_BUILD   ?= build-fuzz

fuzz: deps
	cmake -S tests/fuzz -B $(FUZZ_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++-14
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD)
