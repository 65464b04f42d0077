# Build, check and test s3client / s3op. Everything runs from the local .venv.

PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
# Reinstall when the packaging changes or a package appears (editable installs map packages).
INSTALL_DEPS := setup.py pyproject.toml constraints.txt $(wildcard s3client/__init__.py s3op/__init__.py)

.PHONY: install check test test-fast test-big demo bench bench-quick bench-streaming bench-cluster clean constraints

install: $(VENV)/.installed-test

$(VPY):
	$(PY) -m venv $(VENV)

$(VENV)/.installed-test: $(INSTALL_DEPS) | $(VPY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[test]'
	touch $@

$(VENV)/.installed-bench: $(INSTALL_DEPS) | $(VPY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[test,bench]'
	touch $@

# Newest releases into a scratch venv, frozen into constraints.txt; then run make test.
constraints:
	rm -rf .venv-constraints && $(PY) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install -q --upgrade pip
	.venv-constraints/bin/python -m pip install -q -e '.[test,bench]'
	{ sed -n '/^#/p' constraints.txt; .venv-constraints/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .venv-constraints

check: install
	$(VENV)/bin/ruff check s3client s3op tests scripts
	$(VENV)/bin/ruff format --check s3client s3op tests scripts
	$(VENV)/bin/mypy s3client s3op

test: install
	$(VPY) -m pytest -q -ra --durations=15 tests

test-fast: install
	$(VPY) -m pytest -q -ra tests/unit tests/functional

# Opt-in: objects over 5 GiB (~16 GiB of disk, minutes); skipped by `make test`.
test-big: install
	S3CLIENT_BIG_TESTS=1 $(VPY) -m pytest -q -ra --durations=5 tests/big

demo: install
	$(VPY) scripts/local_s3.py run -- $(VPY) scripts/demo.py

# Every workload on loopback and through the network model; e.g.
# make bench-quick BENCH_ARGS='--conditions network --tools s3client,s5cmd,obstore'
bench: $(VENV)/.installed-bench
	$(VPY) -m scripts.bench $(BENCH_ARGS)
	$(VPY) -m scripts.bench.streaming

# Peak RSS and time per request as manifests and listings grow (issue 18)
bench-streaming: $(VENV)/.installed-bench
	$(VPY) -m scripts.bench.streaming $(STREAMING_ARGS)

bench-quick: $(VENV)/.installed-bench
	$(VPY) -m scripts.bench --quick $(BENCH_ARGS)

# One machine against a Dask LocalCluster of 2 workers (docs/cluster.md).
bench-cluster: $(VENV)/.installed-bench
	$(VPY) -m scripts.bench.cluster $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -f $(VENV)/.installed-test $(VENV)/.installed-bench
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
