# The README's commands. Everything installs into .venv; the CPU build of torch goes in first
# so that no requirement pulls the CUDA wheels.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LAKE ?= .voxlake
VOICES ?= 24
STAMP := $(VENV)/.installed

.PHONY: flite postgres redis cluster-test install demo test test-fast ui lint typecheck bench clean verify-ci release-check docs docs-build docs-screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP) flite
	$(BIN)/voxlake demo --voices $(VOICES) --lake $(LAKE)

# Natural speech for the demo (Debian's flite) where this machine lets us install it; the
# demo falls back to its synthesizer otherwise.
flite:
	@command -v flite >/dev/null || (apt-get install -y -q flite >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q flite >/dev/null 2>&1)) \
		|| echo "flite could not be installed: the demo uses its synthesized voices"

# A PostgreSQL server for the cluster-mode tests (started on loopback by the tests).
postgres:
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
		|| apt-get install -y -q postgresql >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1) \
		|| echo "postgresql could not be installed: the cluster-mode tests will fail"

# Redis, the Celery broker of the cluster-mode test (started on loopback by it).
redis:
	@command -v redis-server >/dev/null \
		|| apt-get install -y -q redis-server >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q redis-server >/dev/null 2>&1) \
		|| echo "redis-server could not be installed: the cluster-mode test will fail"

# Cluster mode on real servers on loopback (PostgreSQL, Redis, an S3 emulator, the Dagster
# daemon, Celery workers; one worker SIGKILLed mid-batch), checked against an embedded run.
# Ends with one JSON line (benchmarks/results/cluster.json); non-zero on any failure.
cluster-test: $(STAMP) postgres redis
	$(BIN)/python benchmarks/cluster.py $(CLUSTER_ARGS)

test: $(STAMP) flite postgres redis
	$(BIN)/python -m pytest -q -m "not slow"
	$(BIN)/python -m pytest -q -m slow

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Reproducibility gates: N reruns + cross-checks (1 vs 2 workers, merge orders, regrouping).
verify-ci: $(STAMP) flite
	rm -rf build/verify-ci
	$(BIN)/voxlake demo --voices 6 --lake build/verify-ci
	$(BIN)/voxlake verify --runs 3 --cross --lake build/verify-ci \
		--export-manifest build/verify-ci/hashes.json

release-check: $(STAMP) flite
	rm -rf build/release-check
	$(BIN)/voxlake demo --voices 24 --lake build/release-check
	$(BIN)/voxlake verify --runs 10 --cross --lake build/release-check \
		--export-manifest build/release-check/hashes.json

# Dagster's local deployment (webserver + daemon) on the lake's instance, through `dg dev`.
# Ctrl-C or SIGTERM stops it and its children. Dagster maps SIGTERM to its SIGINT handler,
# and a shell starts a background job with SIGINT ignored, so `make ui &` would ignore
# SIGTERM too: SIGINT is set back to its default before dg starts. In the background, stop
# it with `pkill -TERM -f "dg dev"`.
ui: $(STAMP)
	$(BIN)/python -c "import sys; from pathlib import Path; from voxlake.orchestration.runner import ensure_home; ensure_home(Path(sys.argv[1]))" $(LAKE)/dagster
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(BIN)):$$PATH \
		VOXLAKE_HOME=$(abspath $(LAKE)) DAGSTER_HOME=$(abspath $(LAKE))/dagster \
		exec $(BIN)/python -c "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])" \
		$(BIN)/dg dev --no-check-yaml

# The manual (docs/): built strictly (every warning an error, every internal link checked),
# its reference pages generated from the code and benchmarks/results/*.json.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[docs]'
	touch $(DOCS_STAMP)

docs-build: $(DOCS_STAMP)
	rm -rf docs/_build/html
	$(BIN)/python -m sphinx -W --keep-going -n -q -b html docs docs/_build/html

# Builds the site and serves it on http://localhost:8000 (Ctrl-C stops it).
docs: docs-build
	$(BIN)/python -m http.server 8000 --directory docs/_build/html

# The UI's pictures in the manual, remade on a demo lake (needs Debian's chromium).
docs-screenshots: $(DOCS_STAMP)
	@command -v chromium >/dev/null || apt-get install -y -q chromium >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)
	$(BIN)/python -m pip install -q playwright
	$(BIN)/voxlake demo --voices 6 --lake build/screenshots
	$(BIN)/python docs/screenshots.py --lake build/screenshots

lint: $(STAMP) typecheck
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# mypy over the whole installed package and the tests: a tree of links laid out as the
# wheel is (assets/, orchestration/, resources/, quality/ and sql/ inside voxlake/).
TYPECHECK := build/typecheck
typecheck: $(STAMP)
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/voxlake
	for f in voxlake/*; do ln -s ../../../$$f $(TYPECHECK)/voxlake/; done
	for d in assets orchestration resources quality sql; do \
		ln -s ../../../$$d $(TYPECHECK)/voxlake/$$d; done
	ln -s ../../tests $(TYPECHECK)/tests
	cd $(TYPECHECK) && $(abspath $(BIN))/mypy --config-file ../../pyproject.toml voxlake tests

# Benchmarks (not part of `make test`): each prints a table and ends with one JSON line,
# also written to benchmarks/results/. QUICK=1 for the short versions.
bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/stats.py $(if $(QUICK),--quick)
	$(BIN)/python benchmarks/denoise.py $(if $(QUICK),--quick)
	$(BIN)/python benchmarks/index.py $(if $(QUICK),--quick)

clean:
	rm -rf $(LAKE)
