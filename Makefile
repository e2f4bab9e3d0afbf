# kmipcrypt: top-level build.  `make deps`, `make`, `make check`, `make demo`.
PKGS       := libcryptsetup libssl libcrypto devmapper blkid json-c libxml-2.0
CC         ?= gcc
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
HARDEN     := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIC -fstack-clash-protection
WARN       := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
OPT        ?= -O2 -g
VERSION    := 0.1
CFLAGS     += -std=gnu11 $(OPT) $(WARN) $(HARDEN) -Isrc -DKMIPCRYPT_VERSION='"$(VERSION)"' \
	      $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS    += -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(EXTRA_LDFLAGS)
BUILD      ?= build

LIB_SRCS   := $(sort $(wildcard src/ttlv/*.c src/kmip/*.c src/net/*.c src/util/*.c src/luks/*.c))
CLI_SRCS   := $(sort $(wildcard src/cli/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS   := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:%.c=$(BUILD)/%)
LIB        := $(BUILD)/libkmipcrypt.a
CLI        := $(BUILD)/kmipcrypt

include mk/plugin.mk

.PHONY: all deps check unit integration demo clean asan valgrind install fuzz bench
all: $(CLI) $(PLUGIN) $(UNIT_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(PKG_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) -lcmocka

deps:
	@./tools/deps.sh

unit: $(UNIT_BINS)
	@./tests/run-unit.sh $(UNIT_BINS)

integration: $(CLI) $(PLUGIN)
	@./tests/integration/run.sh $(CLI)

# Everything: build, unit tests, the same under ASan/UBSan and valgrind,
# integration tests against real servers.
check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) asan
	$(MAKE) valgrind
	./tests/fuzz/run.sh --replay
	$(MAKE) integration

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" unit

valgrind: $(UNIT_BINS)
	@VALGRIND=1 ./tests/run-unit.sh $(UNIT_BINS)

demo: deps
	$(MAKE) $(CLI)
	@./tools/demo.sh $(CLI)

PREFIX     ?= /usr
install: $(CLI) install-plugin
	install -D -m 0755 $(CLI) $(DESTDIR)$(PREFIX)/sbin/kmipcrypt
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man8 $(wildcard docs/*.8)
	install -D -m 0644 docs/kmipcrypt.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/kmipcrypt.conf.5
	install -d -m 0700 $(DESTDIR)/etc/kmipcrypt

fuzz:
	./tests/fuzz/run.sh $(SECONDS)

bench:
	./bench/run.sh && ./bench/latency.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
