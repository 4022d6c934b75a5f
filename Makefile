# Opsplane: the two commands are `make run` and `make test`.
#   make run    install missing Debian packages (as root), build, start the embedded stack
#               (Postgres, FastCGI workers, nginx on 127.0.0.1:$PORT, default 8080)
#   make stop   stop that stack (only the processes it started, by pid)
#   make test   isolated stack on a free port + swift test + JS unit tests + Tests/e2e + a short
#               fuzz, always torn down
#   make fuzz   schemathesis against deploy/openapi.yaml on a stack of its own with demo data
#               (Tests/fuzz/own-stack.sh; FUZZ_EXAMPLES default 200, FUZZ_SEED, FUZZ_WORKERS)
#   make soak   fault and load tests (bench/soak.sh, ~35 min with the default SOAK_MINUTES=30)
#   make bench  benchmarks: the foundation's table (bench/run.sh, ~2 min), the
#               activity ledger's (bench/activity.sh, ~9 min), the ticker's (bench/ticker.sh, ~2 min),
#               the monitor's (bench/monitor.sh, ~3 min), the access-log tail and performance
#               route (bench/access_log.sh, ~3 min), browser error reports (bench/beacon.sh,
#               ~2 min), log tails (bench/logs.sh, ~1 min), the dashboard in headless Chromium
#               (bench/dashboard.sh: first-load transfer, time to drawn, DASH_TV_MINUTES=10 TV heap)
# Variables are read from the environment or the command line (make run PORT=9090):
# STATE, PORT, OPS_WORKERS, OPS_FCGI_THREADS, DEMO, and for make test TEST_STATE, TEST_PORT.
# See deploy/stack.sh and deploy/test.sh.

SHELL := /bin/bash
SWIFT ?= swift

.PHONY: all deps build run stop status test fuzz bench soak clean
# deps, then build, then the stack: the prerequisites are steps in order, also under make -j.
.NOTPARALLEL:

all: build

# As root: apt-get install what is missing; otherwise print the apt-get line and fail.
deps:
	deploy/install-deps.sh

build:
	$(SWIFT) build -c release --product opsplane
	$(SWIFT) build -c release --product opsctl

run: deps build
	deploy/stack.sh up

stop:
	deploy/stack.sh down

status:
	deploy/stack.sh status

test: deps build
	deploy/test.sh

# The fuzz run: its own stack (demo data), 200 cases per operation, always torn down.
fuzz: deps build
	Tests/fuzz/own-stack.sh

# Every benchmark runs even when an earlier one fails (make bench then fails); Ctrl-C stops both.
bench: deps build
	@status=0; \
	for b in bench/run.sh bench/activity.sh bench/ticker.sh bench/monitor.sh bench/access_log.sh bench/beacon.sh bench/logs.sh bench/dashboard.sh; do \
	  bash $$b || { rc=$$?; [ $$rc -ne 130 ] || exit 130; status=1; }; \
	done; exit $$status

# Fault and load tests on a stack of their own (bench/soak.sh): kill -9 a worker, restart
# Postgres, fill a scratch disk (root), then SOAK_MINUTES (30) of mixed load with memory sampling.
soak: deps build
	bash bench/soak.sh

# Build output and the test stack's state. The `make run` state (.opsplane, your data) is
# kept: `make stop` first, then remove it by hand if you want a new cluster.
clean:
	-STATE=$(CURDIR)/.opsplane-test deploy/stack.sh down
	rm -rf .build .opsplane-test
