# tinymx — `make run` starts a local instance, `make test` runs every test.
# Both work on a fresh machine: missing tools are installed here.

TARGET  ?= x86_64-unknown-linux-musl
RELEASE := target/$(TARGET)/release/tinymx
CARGO   ?= cargo
# apt-get needs root; as a normal user, sudo is used when present.
SUDO    := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: all build run test test-deps static-check clean

all: build

# The static binary. rustup adds the musl target once if it is missing.
build:
	@rustup target list --installed | grep -qx '$(TARGET)' || rustup target add '$(TARGET)'
	$(CARGO) build --release --locked --target '$(TARGET)'

# Foreground, 127.0.0.1:2525, spool in ./spool. Ctrl-C stops it.
run: build
	$(RELEASE) -l 127.0.0.1:2525 -d ./spool

# Unit tests, then the integration tests against the static binary.
test: build test-deps static-check
	TINYMX_BIN='$(abspath $(RELEASE))' $(CARGO) test --locked
	$(MAKE) test-interop
	$(MAKE) bench-smoke

# Real mail software against the static binary (tests/interop/): Postfix
# and Exim as sending MTAs, swaks, curl, msmtp and smtplib as clients,
# mblaze and Python's mailbox as spool readers, a smtp-source load run.
# Installs what is missing from Debian's packages; needs root.
.PHONY: test-interop
test-interop: build
	$(SUDO) env TINYMX_BIN='$(abspath $(RELEASE))' python3 tests/interop/run.py

# tinymx side by side with Postfix (→ Maildir), aiosmtpd (→ Maildir, fsync),
# smtp-sink and the file system's own limit, smtp-source as the client:
# 3 runs, medians, ratios; writes bench/results.md and prints it (≤ 15 min).
# Installs postfix, valgrind and aiosmtpd (in bench/.venv) when missing.
.PHONY: bench bench-smoke
bench: build
	$(SUDO) sh bench/install.sh
	$(SUDO) env TINYMX_BIN='$(abspath $(RELEASE))' python3 bench/run.py

# The harness in ~20 s with tiny counts (tinymx, ceiling, smtp-sink only):
# checks that it yields every number and that every mail arrived; no
# speed thresholds. `make test` runs it last.
bench-smoke: build
	$(SUDO) sh bench/install.sh --smoke
	$(SUDO) env TINYMX_BIN='$(abspath $(RELEASE))' python3 bench/run.py --smoke

static-check:
	@if readelf -lW '$(RELEASE)' | grep -q INTERP; then echo "$(RELEASE): has a program interpreter, not static" >&2; exit 1; fi
	@if readelf -dW '$(RELEASE)' | grep -q NEEDED; then echo "$(RELEASE): needs shared libraries, not static" >&2; exit 1; fi
	@echo "static-check: $(RELEASE) is statically linked ($$(stat -c %s '$(RELEASE)') bytes)"

# Test-only tools, from Debian's packages: python3 (smtplib), swaks,
# busybox (the init script, the examples/ hooks and the --exec tests run
# under busybox sh).
test-deps:
	@missing=""; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	command -v swaks >/dev/null || missing="$$missing swaks"; \
	command -v busybox >/dev/null || missing="$$missing busybox-static"; \
	command -v readelf >/dev/null || missing="$$missing binutils"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
	fi

clean:
	$(CARGO) clean
