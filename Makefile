# Quorum developer commands. PostgreSQL and Redis are chosen (or started, embedded) by
# config/devservices.py; see its docstring for the rules.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LAUNCH := $(BIN)/python -m config.devservices
PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=
CHAOS_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: cluster cluster-check
.PHONY: help install run test test-pgbouncer test-replica check format simulate bench bench-cycle-cpu bench-capacity bench-export bench-import bench-scale-import bench-consensus chaos lint stop clean

help:
	@echo "make run     start web (http://127.0.0.1:$(PORT)/), worker and beat with demo data"
	@echo "make test    run the test suite on 2 workers (PYTEST_ARGS='-k claim' to narrow it, TEST_WORKERS=0 for one process)"
	@echo "make test-pgbouncer  the session, lock and streaming tests through a private PgBouncer (transaction mode)"
	@echo "make test-replica  the read-replica tests against a private streaming replica (pg_basebackup)"
	@echo "make bench   run bench/claim.py (BENCH_ARGS='...' to pass options)"
	@echo "make bench-cycle-cpu  run bench/cycle_cpu.py: the web process's CPU (or, with --callgrind, instructions) per claim + submit cycle, in-process"
	@echo "make bench-capacity  run bench/capacity.py: PostgreSQL CPU, WAL, statements per cycle on a private cluster, and the capacity model"
	@echo "make bench-export  run bench/export.py: export seconds and peak memory at 20,000 and 200,000 tasks"
	@echo "make bench-import  run bench/import.py: bulk task import through HTTP and in-process, 10,000 per request and 1,000,000 in 100"
	@echo "make bench-scale-import  run bench/scale_import.py: import_scale_tasks seconds and peak memory at 10,000 and 1,000,000 lines"
	@echo "make bench-consensus  run bench/consensus.py: Dawid-Skene vs majority vote (and crowd-kit if installed), 1,000,000 labels"
	@echo "make simulate  run bench/simulate.py: the quality simulation at full size over several seeds"
	@echo "make chaos   run bench/chaos.py: faults injected into the real processes on private PostgreSQL and Redis (CHAOS_ARGS=--quick: the short tier)"
	@echo "make cluster  two web nodes behind HAProxy, two worker sets, two beats, PgBouncer, primary + replica (deploy/cluster.py)"
	@echo "make cluster-check  the same, then the e2e loop and 16-annotator contention through it, invariants counted"
	@echo "make check   ruff check and ruff format --check (what CI runs before the tests)"
	@echo "make format  ruff format, then ruff check --fix"
	@echo "make lint    ruff check"
	@echo "make stop    stop the embedded PostgreSQL and Redis (data in var/ is kept)"
	@echo "make clean   remove the virtualenv (data in var/ is kept)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# make run's logging: warnings and errors only from granian, Celery and Django, no access log and no
# Celery start-up banners, so the URLs and demo logins (printed once web answers) stay on screen.
# make run RUN_LOG_LEVEL=INFO RUN_ACCESS_LOG=on RUN_CELERY_FLAGS= shows everything, as the Procfile
# does by default.
RUN_LOG_LEVEL ?= WARNING
RUN_ACCESS_LOG ?= off
RUN_CELERY_FLAGS ?= --quiet

run: $(STAMP)
	@LOG_LEVEL=$(RUN_LOG_LEVEL) CELERY_LOG_LEVEL=$(RUN_LOG_LEVEL) WEB_LOG_LEVEL=$(RUN_LOG_LEVEL) \
	WEB_ACCESS_LOG=$(RUN_ACCESS_LOG) CELERY_FLAGS="$(RUN_CELERY_FLAGS)" $(LAUNCH) run -- sh -c '\
		set -e; \
		python manage.py migrate --noinput; \
		logins="$$(python manage.py seed_demo --base-url http://127.0.0.1:$(PORT))"; \
		printf "%s\n  OpenAPI:   http://127.0.0.1:$(PORT)/api/schema/\n\n" "$$logins" \
			| python -m config.devservices banner --port $(PORT) & \
		exec honcho start -f Procfile -e /dev/null -p $(PORT)'

# Two pytest-xdist workers (TEST_WORKERS=0: one process, no xdist), each with its own run name and so
# its own test database, Redis prefix and media folder (tests/xdist_worker.py, config/devservices.py).
# worksteal: an idle worker takes queued tests from a busy one, so the long ones do not leave one
# worker idle at the end. `python -m pytest` puts the checkout on sys.path for -p tests.xdist_worker.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python -m pytest -p tests.xdist_worker -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The tests that exercise sessions, locks and streaming, through a private PgBouncer in transaction
# mode (config/pgbouncer.py; needs the pgbouncer binary: apt-get install -y pgbouncer). --reuse-db:
# the launcher drops the test database itself once PgBouncer has let go of it.
PGBOUNCER_TESTS ?= tests/test_pgbouncer.py tests/test_beat_leader.py tests/e2e \
	tests/annotation/test_concurrency.py tests/billing/test_money_concurrency.py \
	tests/billing/test_money_api.py tests/annotation/test_exports_jobs.py \
	--deselect tests/annotation/test_concurrency.py::test_sixteen_annotators_never_over_assign_two_thousand_tasks
test-pgbouncer: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python -m config.pgbouncer -- $(BIN)/pytest --reuse-db $(PGBOUNCER_TESTS) $(PYTEST_ARGS)

# The read-replica tests against a private streaming replica of the test PostgreSQL, made with
# pg_basebackup -R on a free port (config/replica.py; the primary must allow replication from loopback).
REPLICA_TESTS ?= tests/test_replica.py
test-replica: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python -m config.replica -- $(BIN)/pytest $(REPLICA_TESTS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python bench/claim.py $(BENCH_ARGS)

bench-cycle-cpu: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python bench/cycle_cpu.py $(BENCH_ARGS)

# Starts its own PostgreSQL (pg_stat_statements preloaded); Redis from the launcher: see bench/capacity.py.
bench-capacity: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python bench/capacity.py $(BENCH_ARGS)

bench-billing: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python bench/billing.py $(BENCH_ARGS)

bench-export: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python bench/export.py $(BENCH_ARGS)

bench-import: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python bench/import.py $(BENCH_ARGS)

bench-scale-import: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python bench/scale_import.py $(BENCH_ARGS)

simulate: $(STAMP)
	$(LAUNCH) test -- $(BIN)/python bench/simulate.py $(BENCH_ARGS)

bench-consensus: $(STAMP)
	$(BIN)/python bench/consensus.py $(BENCH_ARGS)

# Starts its own PostgreSQL and Redis (not the devservices ones): see bench/chaos.py.
chaos: $(STAMP)
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

# Its own PostgreSQL (primary and replica), PgBouncer, Redis and HAProxy: see deploy/cluster.py.
cluster: $(STAMP)
	$(BIN)/python deploy/cluster.py $(CLUSTER_ARGS)

cluster-check: $(STAMP)
	$(BIN)/python deploy/cluster.py --check $(CLUSTER_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

stop:
	@if [ -x $(BIN)/python ]; then $(LAUNCH) stop; else echo "no $(VENV): nothing was started"; fi

clean:
	rm -rf $(VENV)
