# hlsgate: `make run` starts it on SQLite with no setup; `make test` runs every test.
GO      ?= go
BIN     := bin/hlsgate
PKGS    := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/hlsgate
	CGO_ENABLED=1 $(GO) build -o $(BIN) .

.PHONY: run
run: build ## build and start hlsgate on SQLite (hlsgate.db, keys in hlsgate.keys), listening on :8080
	./$(BIN) serve

.PHONY: e2e-deps
e2e-deps: ## install the Node packages the browser tests use (hls.js, playwright-core)
	@if command -v npm >/dev/null 2>&1; then \
		if [ ! -d e2e/node_modules ] || [ e2e/package-lock.json -nt e2e/node_modules ]; then \
			npm ci --prefix e2e --no-audit --no-fund --loglevel=error && touch e2e/node_modules; \
		fi; \
	else echo "npm not found: browser tests will skip"; fi

.PHONY: test
test: e2e-deps ## run all tests with the race detector (PostgreSQL and browser tests skip where absent)
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

.PHONY: bench
bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

.PHONY: bench-load
bench-load: ## load benchmark on loopback: direct vs through hlsgate (needs wrk)
	$(GO) run ./internal/loadbench

.PHONY: fuzz
fuzz: ## fuzz the token parser and the playlist rewriter for 30s each
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 30s ./signer
	$(GO) test -run '^$$' -fuzz FuzzRewrite -fuzztime 30s ./playlist

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

.PHONY: clean
clean: ## remove build output
	rm -rf bin
