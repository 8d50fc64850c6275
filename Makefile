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

# The static binary's checks (linkage, size budget), unit tests, then the
# integration tests against it.
test: build test-deps static-check size-check
	TINYMX_BIN='$(abspath $(RELEASE))' $(CARGO) test --locked
	$(MAKE) test-interop

# Real mail software against the static binary (tests/interop/): Postfix
# and Exim as sending MTAs, swaks, curl, msmtp and smtplib as clients,
# mblaze and Python's mailbox as spool readers, a smtp-source load run.
# Installs what is missing from Debian's packages; needs root.
.PHONY: test-interop
test-interop: build
	$(SUDO) env TINYMX_BIN='$(abspath $(RELEASE))' python3 tests/interop/run.py

# $(call check_static,BINARY): no program interpreter, no shared libraries.
check_static = \
	if readelf -lW '$(1)' | grep -q INTERP; then echo "$(1): has a program interpreter, not static" >&2; exit 1; fi; \
	if readelf -dW '$(1)' | grep -q NEEDED; then echo "$(1): needs shared libraries, not static" >&2; exit 1; fi; \
	echo "static-check: $(1) is statically linked ($$(stat -c %s '$(1)') bytes)"

static-check:
	@$(call check_static,$(RELEASE))

# Size budget of the stripped static x86_64 binary: 602,784 bytes measured
# with the release profile in Cargo.toml (rustc 1.95.0), + 15%. Raise it
# deliberately, with the new measurement, when a feature is worth the bytes.
SIZE_BUDGET := 693201
.PHONY: size-check
size-check: build
	@if [ '$(TARGET)' != x86_64-unknown-linux-musl ]; then \
		echo "size-check: the budget is for x86_64-unknown-linux-musl, not $(TARGET); skipped"; exit 0; fi; \
	size=$$(stat -c %s '$(RELEASE)'); \
	if [ "$$size" -gt $(SIZE_BUDGET) ]; then \
		echo "size-check: $(RELEASE) is $$size bytes, over the budget of $(SIZE_BUDGET) (Makefile SIZE_BUDGET)" >&2; exit 1; fi; \
	echo "size-check: $(RELEASE) is $$size bytes, budget $(SIZE_BUDGET)"

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
