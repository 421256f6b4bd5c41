# 多规合一 GIS platform — set-up and everyday commands for Debian/Ubuntu.
#   make run    install everything, start the embedded PostGIS, load the Dingxi demo data, serve
#   make test   install everything and run the tests against a real embedded PostGIS
#   make bench  run the benchmarks (see bench/README.md): bench-ingest, bench-precheck, bench-conflict,
#               bench-tile

PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8000
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBS   := postgresql-15 postgresql-15-postgis-3 gdal-bin libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk chromium
BIN    := $(VENV)/bin

.PHONY: run test bench bench-ingest bench-precheck bench-conflict bench-tile system venv assets lint clean-store

system:
	@if ! dpkg -s $(DEBS) >/dev/null 2>&1; then \
		echo ">> installing Debian packages: $(DEBS)"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEBS); \
	fi
	@# The platform runs its own cluster; stop Debian's default one from holding resources.
	@if command -v pg_lsclusters >/dev/null 2>&1 && pg_lsclusters -h 2>/dev/null | grep -q online; then \
		$(SUDO) pg_ctlcluster 15 main stop 2>/dev/null || true; fi

# Front-end packages (Leaflet, Leaflet.VectorGrid) pinned in package-lock.json, served by the
# platform itself from node_modules/. Debian's nodejs/npm only when npm is not on PATH already.
node_modules/.package-lock.json: package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		echo ">> installing Debian packages: nodejs npm"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends nodejs npm; \
	fi
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

assets: node_modules/.package-lock.json

$(BIN)/gisplat: requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

venv: $(BIN)/gisplat

run: system venv assets
	$(BIN)/gisplat db start
	$(BIN)/gisplat demo load
	$(BIN)/gisplat layers list
	$(BIN)/gisplat serve --port $(PORT)

test: system venv assets
	$(BIN)/lint-imports
	$(BIN)/pytest -q

bench: bench-ingest bench-precheck bench-conflict bench-tile

bench-ingest: system venv
	$(BIN)/python -m bench.ingest_bench --repeat 5

bench-precheck: system venv
	$(BIN)/python -m bench.precheck_bench

bench-conflict: system venv
	$(BIN)/python -m bench.conflict_bench --sizes 100000,500000 --repeat 3

bench-tile: system venv
	$(BIN)/python -m bench.tile_bench

clean-store:
	-$(BIN)/gisplat db stop
	rm -rf .gisplat
