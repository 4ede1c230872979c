# zkv: the two commands a newcomer needs are `make run` and `make test`.
GO        ?= go
BIN       := bin/zkv
# Packages with concurrency run again under the race detector. Only folders that exist are used.
RACE_DIRS := crypto db transport validator prover pbs pool mev devnet
RACE_PKGS := $(foreach d,$(RACE_DIRS),$(if $(wildcard $(d)),./$(d)/...))
# Extra flags for `make bench-go`, e.g. BENCH_GO_ARGS='-bench=BatchVerify -count=5'.
BENCH_GO_ARGS ?= -bench=. -benchmem -run='^$$'
# Extra flags for `make bench` (zkv bench), e.g. BENCH_ARGS='--suite prover,bls --cpus 1,2'.
BENCH_ARGS ?=

.PHONY: build build-blst test test-race run bench-quick bench bench-go bench-bls lint fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/zkv

# The whole suite, short mode (small circuits, bounded crash tests), then the race detector on the
# packages that run goroutines.
test:
	$(GO) test -short -count=1 ./...
	$(MAKE) test-race
	$(MAKE) bench-quick BENCH_QUICK_ARGS='--duration 1ms --runs 1'

test-race:
	$(if $(RACE_PKGS),$(GO) test -race -short -count=1 $(RACE_PKGS),@echo "no race packages yet")

# The main job with embedded defaults and no outside services: the whole network in one process
# (zkv devnet: 64 validators, four epochs of 2 s slots, about 75 s), a line per slot and a summary,
# with private attestations and validator 5 planted as an equivocator; it fails unless the chain
# finalized, every attestation's proof was verified by the pool and the pool named validator 5.
run: build
	./$(BIN) devnet --equivocate 5

# The quick benchmark suites (under a minute): every suite with small inputs, the table, then
# --json and --report into a temporary directory, which --check validates against the schema and
# the suites run (structure, never timings). `make test` runs it with one short run per figure.
BENCH_QUICK_ARGS ?=
bench-quick: build
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	./$(BIN) bench --quick $(BENCH_QUICK_ARGS) --json "$$d/bench.json" --report "$$d/report" --check

# zkv with blst linked in (cgo, so gcc), the bls suite's peer: the zkv binary itself has none.
build-blst:
	CGO_ENABLED=1 $(GO) build -tags blst -o bin/zkv-blst ./cmd/zkv

# The full benchmark suite (minutes; the first run also sets up the prover's keys of each depth
# and keeps them in ~/.cache/zkv/bench-keys): the table, then bin/bench/bench.json and
# bin/bench/report/index.html, checked for structure.
bench: build-blst
	@mkdir -p bin/bench
	./bin/zkv-blst bench $(BENCH_ARGS) --json bin/bench/bench.json --report bin/bench/report --check

# Every `go test -bench` benchmark of every package.
bench-go:
	$(GO) test $(BENCH_GO_ARGS) ./...

bin:
	mkdir -p bin

# zkv against blst (the reference BLS implementation) on the same inputs, each GOMAXPROCS in its
# own process (gnark-crypto sizes its work from the CPU count), printing time ratios zkv/blst.
BLS_CPUS      ?= 1 2
BLS_BENCHTIME ?= 2s
BLS_COUNT     ?= 3
bench-bls: bin
	@for p in $(BLS_CPUS); do \
	  echo "== GOMAXPROCS=$$p"; \
	  $(GO) test -run '^$$' -bench . -benchtime $(BLS_BENCHTIME) -count $(BLS_COUNT) -cpu $$p ./crypto/bls > bin/bench-bls-$$p.txt || exit 1; \
	  awk -f bench/ratio.awk bin/bench-bls-$$p.txt; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# A short fuzzing pass over every fuzz target (FUZZTIME per target).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
