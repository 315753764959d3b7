# The README's two commands (`make run`, `make test`) and a few helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATASETS ?= $(abspath ../shared/datasets)
GALLERY ?=
PYTEST_ARGS ?=
# what `make run` installs: the package, the fast embedder and the web service
RUN_EXTRAS ?= fast,service
DEMO_PHOTO ?= $(DATASETS)/face_recognition_examples/biden/train_biden.jpg

export LOOKALIKE_DATASETS := $(DATASETS)
GALLERY_OPT := $(if $(GALLERY),--gallery $(GALLERY),)

.PHONY: run serve test install install-test gallery demo bench-ingest bench-latency clean core

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q ".[$(RUN_EXTRAS)]"

## the main job: install, build the LFW celebrity gallery (resumable), show a search, serve the web page
run: demo
	$(BIN)/lookalike serve $(GALLERY_OPT)

gallery: install
	$(BIN)/lookalike ingest lfw $(GALLERY_OPT)

demo: gallery
	$(BIN)/lookalike search "$(DEMO_PHOTO)" -k 5 $(GALLERY_OPT)

## the web page only (the gallery must exist)
serve: install
	$(BIN)/lookalike serve $(GALLERY_OPT)

install-test: $(BIN)/python
	$(BIN)/python -m pip install -q ".[test]"

## install everything the tests need and run the whole suite
test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench-ingest: install
	$(BIN)/python benchmarks/ingest.py

bench-latency: install
	$(BIN)/python benchmarks/latency.py $(GALLERY_OPT)

clean:
	rm -rf build dist .pytest_cache tests/artifacts benchmarks/results/quick

## the compiled HNSW core, built in place into src/lookalike/ (for PYTHONPATH=src runs; needs cmake, ninja, g++)
core: $(BIN)/python
	$(BIN)/python -m pip install -q pybind11
	cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$(abspath $(BIN)/python) \
		-Dpybind11_DIR=$$($(BIN)/python -c 'import pybind11; print(pybind11.get_cmake_dir())')
	cmake --build build/dev
	cp build/dev/csrc/hnsw/_hnsw*.so src/lookalike/
