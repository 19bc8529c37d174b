# Two commands set up everything on a fresh machine: `make demo` and `make test`.
# They create .venv with pip and constraints.txt (torch==2.14.1, torchvision==0.29.1 from the local wheel index),
# and install Debian's chromium (for the HTML-report test) when it is missing and we are root.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_output

.PHONY: venv system-deps demo test lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
# sam2 (MedSAM2 tests) is an sdist whose build needs torch: build it against the venv's pinned torch
# (--no-build-isolation; setuptools>=70.1 builds wheels without the `wheel` package), without the CUDA kernel.
	$(BIN)/pip install --quiet -c constraints.txt 'setuptools>=70.1'
	SAM2_BUILD_CUDA=0 $(BIN)/pip install --quiet -c constraints.txt --no-build-isolation 'sam2==1.1.0'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian chromium (headless report checks)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the report browser test will fail in CI"; \
	  else echo "note: chromium missing and not root; install Debian's chromium for the report test"; fi; \
	fi

demo: $(STAMP)
	$(BIN)/crosspan demo -o $(DEMO_OUT)

test: $(STAMP) system-deps
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
