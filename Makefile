# tapestry: a whole virtual network in one Go binary.
#
#   make demo    the seed's PING experiment with real TAP devices (as root)
#   make test    everything CI checks: tools, lint, unit, fuzz seeds, root end-to-end
#   make bench   Go benchmarks; bench/*.sh compare with Open vSwitch and the kernel
#   make fuzz    each fuzz target for FUZZTIME (default 30s)

GO           ?= go
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN          := bin/tapestry
FUZZTIME     ?= 30s
BENCHTIME    ?= 1s
# Debian packages the tests use as real peers and oracles.
APT_PKGS     := openvswitch-switch openvswitch-common python3-os-ken iproute2 iptables \
                iputils-ping iperf3 tcpdump tshark ethtool procps curl netcat-openbsd

.PHONY: all build deps lint test unit race e2e bench fuzz demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/tapestry

# deps installs what the tests need when it is missing (root only; CI runs as root).
deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/tmp/tapestry-apt.log 2>&1 \
	      || { tail -20 /tmp/tapestry-apt.log; exit 1; }; \
	  else echo "not root: skipping apt packages:$$missing (root-only tests will skip)"; fi; \
	fi

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	  if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# As root, deps has installed every program the tests use as a peer or
# oracle: from then on a missing one fails its test instead of skipping it
# (see internal/hosttest).
STRICT := $(shell [ "$$(id -u)" = 0 ] && echo 1)

unit:
	TAPESTRY_TEST_STRICT=$(STRICT) $(GO) test -count=1 ./...

# The concurrent structures run again under the race detector.
race:
	TAPESTRY_TEST_STRICT=$(STRICT) $(GO) test -count=1 -race ./classifier/ ./ofproto/ ./link/ ./store/

test: deps lint build unit race

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The demo needs only ip and ping; install them when missing (as root).
demo: build
	@if [ "$$(id -u)" = 0 ] && ! { command -v ip && command -v ping; } >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 iputils-ping >/dev/null; fi
	@if [ "$$(id -u)" = 0 ]; then ./scripts/seed-ping.sh; else $(BIN) demo; fi

clean:
	rm -rf bin
