# The README's two commands.
#   make demo   install what is missing, build Release into build/, run the main job
#   make test   build and run the whole test suite through ctest
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: demo test build deps format-check clean

deps:
	scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/paraxis demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD)
