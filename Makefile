# cutover: every target a newcomer or CI needs.
GO      ?= go
PKGS    ?= ./...
TIMEOUT ?= 15m

.PHONY: test test-short vet fmt bench fuzz build demo

# The whole suite, race detector on. CI runs exactly this (.ci/run).
test: vet
	$(GO) test -race -timeout $(TIMEOUT) $(PKGS)

# Unit tests only: skips the slow end-to-end and fault tests.
test-short:
	$(GO) test -short -timeout 5m $(PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

build:
	$(GO) build -o bin/cutover ./cmd/cutover

demo:
	$(GO) run ./cmd/cutover demo

# Benchmarks are not part of `make test`; see bench/README.md for the figures.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# A short run of every fuzz target.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
