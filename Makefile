# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both install what the project needs (Debian packages when missing, then a virtualenv).
PY      ?= python3.11
VENV    ?= .venv
BIN     := $(VENV)/bin
DEMO_DIR ?= demo-world
DEB_PKGS := ffmpeg espeak-ng libimage-exiftool-perl chromium
STAMP   := $(VENV)/.installed

.PHONY: deps venv demo test lint bench clean

deps:
	@bash scripts/install-debian-deps.sh $(DEB_PKGS)

$(STAMP): pyproject.toml requirements-nodeps.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

venv: deps $(STAMP)

demo: venv
	$(BIN)/syncline demo $(DEMO_DIR)

test: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: venv
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache build src/*.egg-info
