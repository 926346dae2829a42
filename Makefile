# Serac — set-up, demo, tests and packaging.
#   make demo   set everything up on a fresh Debian 12 or 13 machine, then run the demo on bundled data
#   make test   set everything up, then run the test suite (core tests + real QGIS tests)

SHELL := /bin/bash
PYTHON_SYS ?= /usr/bin/python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VERSION := $(shell sed -n 's/^version=//p' metadata.txt)
QGIS_PROFILE ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default
APT_PACKAGES := qgis python3-qgis qgis-providers xvfb python3-venv python3-gdal python3-pip
export QT_QPA_PLATFORM ?= offscreen

.PHONY: help system-deps venv demo test test-core bench install uninstall zip clean

help:
	@echo "make demo    set up (QGIS, venv, packages) and run the demo on bundled sample data"
	@echo "make test    set up and run all tests"
	@echo "make bench   run the benchmarks (figures in benchmarks/results/)"
	@echo "make install link the plugin into the QGIS profile ($(QGIS_PROFILE))"
	@echo "make zip     build dist/serac-$(VERSION).zip for 'Install from ZIP'"

# QGIS and its Python bindings come from Debian; installed only when missing.
system-deps:
	@if ! command -v qgis_process >/dev/null || ! $(PYTHON_SYS) -c "import qgis.core, osgeo.gdal, pip" 2>/dev/null \
	   || ! command -v Xvfb >/dev/null || ! $(PYTHON_SYS) -c "import venv, ensurepip" 2>/dev/null; then \
	  echo "Installing QGIS from Debian: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

# A venv that sees the system's QGIS bindings; packages from the requirement files (the one
# declaration, also read by pyproject.toml and the plugin's installer). Pins follow the platform:
# build/constraints.txt holds the versions of numpy, scipy, GDAL & co. that the system has
# (numpy 1 on Debian 12, numpy 2 on Debian 13), so the venv never shadows what Debian's GDAL and
# scipy are built against. torch is installed only where pip finds a CPU build (not the
# several-GB CUDA build PyPI serves for Linux); without it the torch tests skip.
$(VENV)/.stamp: requirements.txt requirements-ml.txt requirements-batch.txt requirements-dev.txt plugin/dependencies.py | system-deps
	$(PYTHON_SYS) -m venv --system-site-packages $(VENV)
	mkdir -p build
	$(PYTHON_SYS) plugin/dependencies.py constraints > build/constraints.txt
	$(PY) plugin/dependencies.py ml-requirements build/constraints.txt > build/requirements-ml.txt
	@echo "Platform pins:" $$(cat build/constraints.txt) "| ml:" $$(cat build/requirements-ml.txt)
	$(PY) -m pip install -q --upgrade-strategy only-if-needed -c build/constraints.txt \
	  -r requirements.txt -r build/requirements-ml.txt -r requirements-batch.txt -r requirements-dev.txt
	touch $@

venv: system-deps $(VENV)/.stamp

demo: venv
	$(PY) scripts/run_demo.py --output demo_output

test: venv
	$(PY) -m pytest tests

test-core: venv
	$(PY) -m pytest -p no:pytest_qgis tests/core

bench: venv
	$(PY) benchmarks/run_all.py
	$(PY) benchmarks/summarize.py

install:
	mkdir -p "$(QGIS_PROFILE)/python/plugins"
	ln -sfn "$(CURDIR)" "$(QGIS_PROFILE)/python/plugins/serac"
	@echo "Linked $(CURDIR) as $(QGIS_PROFILE)/python/plugins/serac; enable Serac in Plugins > Manage and Install Plugins."

uninstall:
	rm -f "$(QGIS_PROFILE)/python/plugins/serac"

zip:
	mkdir -p dist
	git archive --format=zip --prefix=serac/ -o dist/serac-$(VERSION).zip HEAD \
	  ':!tests' ':!benchmarks' ':!.ci' ':!scripts' ':!docs' ':!pytest.ini' ':!.gitignore'
	@echo "Built dist/serac-$(VERSION).zip"

clean:
	rm -rf build dist demo_output .pytest_cache
