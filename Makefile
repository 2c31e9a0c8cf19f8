# The two commands of the README: `make run` and `make test`. Everything else is a helper.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

# Tests use the machine's Postgres and Redis; CI (.ci/run) makes sure they answer.
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/jack_test?sslmode=disable
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

# Fuzz targets replayed from their corpora by `go test`, and run briefly by `make fuzz`.
FUZZ_TARGETS := $(shell grep -rl --include='*_test.go' '^func Fuzz' . 2>/dev/null | xargs -r dirname | sort -u)
FUZZTIME ?= 4s

.PHONY: run test size test-unit fuzz bench bench-compare lint generate build build-k8s image image-k8s clean deploy-check

run: ## the server on the embedded default, dashboard and API on http://localhost:3001
	$(GO) run ./cmd/jack serve

test: lint size test-unit fuzz ## the whole suite

# Packages that start Proto.Actor clusters run without -race: with several clusters in one
# process the detector trips over the library's and gRPC's globals (see ARCHITECTURE.md, "Proto.Actor rules"). One
# single-engine test drives every concurrent path of the grain under -race instead.
CLUSTER_PKGS := ./actors/... ./cmd/...

test-unit:
	$(GO) test -race -count=1 -timeout 10m $$($(GO) list ./... | grep -v -e '/actors' -e '/cmd/')
	$(GO) test -count=1 -timeout 10m $(CLUSTER_PKGS)
	$(GO) test -race -count=1 -timeout 5m -run '^TestSingleEngineRace$$' ./actors/

# cmd/jack's webhook fuzzer starts a whole node on Postgres (TEST_DATABASE_URL) in each fuzz
# worker: one worker keeps it within the machine.
fuzz: ## each fuzz target for a bounded few seconds (FUZZTIME)
	@set -e; fuzz_parallel() { case $$1 in ./cmd/*) echo -parallel=1;; esac; }; \
	for dir in $(FUZZ_TARGETS); do \
	  for target in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz $$dir $$target"; \
	    $(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$(fuzz_parallel $$dir) $$dir; \
	  done; \
	done

# Benchmarks (bench/README.md): the Go micro-benchmarks, then jack-bench drives the built binary,
# embedded and on the local Postgres + Redis. BENCH_FLAGS=-quick is a three-minute run.
BENCH_FLAGS ?=
bench: ## measure a node as its users load it; prints the table, JSON in bench/results/
	$(GO) build -o bin/jack ./cmd/jack
	$(GO) build -o bin/jack-bench ./cmd/jack-bench
	@mkdir -p bench/results
	@$(GO) test -run='^$$' -bench=. -benchmem ./actors/ ./providers/twilio/ ./providers/elevenlabs/ > bench/results/gobench.txt; \
	  status=$$?; cat bench/results/gobench.txt; exit $$status
	./bin/jack-bench -gobench bench/results/gobench.txt $(BENCH_FLAGS)

bench-compare: ## only issue 13's comparison workload on Postgres + Redis, about 2 minutes
	$(GO) build -o bin/jack ./cmd/jack
	$(GO) build -o bin/jack-bench ./cmd/jack-bench
	./bin/jack-bench -compare $(BENCH_FLAGS)

# The deployment kit (deploy/) checked offline: every YAML file parses, the Kubernetes objects
# decode strictly into their API types and agree (probes, ports, RBAC, selectors), and every jack
# process the kit starts passes LoadConfig. `make test` runs the same tests.
deploy-check: ## validate deploy/ without Docker or a cluster
	@out=$$($(GO) test -count=1 -v ./deploy/... 2>&1); status=$$?; echo "$$out" | grep -v '^=== '; exit $$status
	$(GO) test -count=1 -run '^TestDeployKit$$' ./cmd/jack/
	@echo "deploy-check: not validated here (no Docker engine or compose plugin, no Kubernetes API server, no Render account):"
	@echo "  docker build, docker compose config, kubectl apply --dry-run=server, render blueprints validate"

# golangci-lint (.golangci.yml: the standard linters, revive, gosec), installed at a fixed version
# into bin/ on first use.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := bin/golangci-lint-$(GOLANGCI_LINT_VERSION)
$(GOLANGCI_LINT):
	@mkdir -p bin
	GOBIN=$(CURDIR)/bin/.golangci $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv bin/.golangci/golangci-lint $@ && rmdir bin/.golangci

lint: $(GOLANGCI_LINT) ## gofmt, go vet, go mod tidy, golangci-lint: zero findings
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || (echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1)
	$(GOLANGCI_LINT) run ./...

# The default binary stays small: the Kubernetes client is behind -tags k8s (build-k8s).
MAX_BINARY_BYTES := 45000000
size: build ## the release binary is at most 45 MB
	@bytes=$$(stat -c %s bin/jack); echo "bin/jack: $$bytes bytes (at most $(MAX_BINARY_BYTES))"; \
	  test $$bytes -le $(MAX_BINARY_BYTES) || (echo "bin/jack is larger than $(MAX_BINARY_BYTES) bytes"; exit 1)

# The release binary as the image builds it (stripped, zone database embedded). The default has
# no Kubernetes cluster provider; build-k8s adds it (-tags k8s) for deploy/k8s.
RELEASE_FLAGS := -trimpath -tags "timetzdata $(GO_TAGS)" -ldflags "-s -w"
build: ## the release binary, bin/jack
	CGO_ENABLED=0 $(GO) build $(RELEASE_FLAGS) -o bin/jack ./cmd/jack

build-k8s: GO_TAGS = k8s
build-k8s: ## the release binary with the Kubernetes cluster provider, bin/jack-k8s
	CGO_ENABLED=0 $(GO) build $(RELEASE_FLAGS) -o bin/jack-k8s ./cmd/jack

image: ## the container image jack (needs Docker)
	docker build -f deploy/Dockerfile -t jack .

image-k8s: ## the container image jack:k8s for deploy/k8s (needs Docker)
	docker build -f deploy/Dockerfile --build-arg GO_TAGS=k8s -t jack:k8s .

generate: ## regenerate protobuf code (needs protoc from Debian's protobuf-compiler and protoc-gen-go)
	$(GO) generate ./...

clean:
	rm -rf bin data
