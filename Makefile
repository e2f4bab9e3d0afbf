# kmipcrypt: top-level build.
#   make deps        the Debian packages needed to build and test (root, apt-get)
#   make             every product: $(BUILD)/kmipcrypt and the token plugin
#   make check       unit tests (also ASan/UBSan, valgrind), fuzz replay, integration
#   make demo        the main job end to end against a local PyKMIP server
#   make install     kmipcrypt, the plugin, the manual pages (DESTDIR, PREFIX)
#   make uninstall   removes exactly the files `make install` copied
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

LIB_SRCS   := $(sort $(wildcard src/util/*.c src/ttlv/*.c src/net/*.c src/kmip/*.c src/conf/*.c src/luks/*.c))
CLI_SRCS   := $(sort $(wildcard src/cli/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS   := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:%.c=$(BUILD)/%)
LIB        := $(BUILD)/libkmipcrypt.a
CLI        := $(BUILD)/kmipcrypt

# `all` is the default goal even though the fragment below defines targets
# first (make's default is the first target it reads).
.DEFAULT_GOAL := all
include mk/plugin.mk

.PHONY: all deps check unit integration demo clean asan valgrind install uninstall fuzz bench
# The products only: the unit test binaries (which need cmocka) are built by
# `make unit` and `make check`.
all: $(CLI) $(PLUGIN)

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

# One list of installed files, so that uninstall removes exactly those.  The
# plugin goes to libcryptsetup's directory (mk/plugin.mk); /etc/kmipcrypt is
# created for the configuration and left by uninstall with what it holds.
PREFIX     ?= /usr
MAN8       := $(notdir $(wildcard docs/*.8))
MAN5       := kmipcrypt.conf.5
install: $(CLI) install-plugin
	install -D -m 0755 $(CLI) $(DESTDIR)$(PREFIX)/sbin/kmipcrypt
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man8 $(addprefix docs/,$(MAN8))
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man5 $(addprefix docs/,$(MAN5))
	install -d -m 0700 $(DESTDIR)/etc/kmipcrypt

uninstall: uninstall-plugin
	rm -f $(DESTDIR)$(PREFIX)/sbin/kmipcrypt
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man8/,$(MAN8))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man5/,$(MAN5))

fuzz:
	./tests/fuzz/run.sh $(SECONDS)

bench:
	./bench/run.sh && ./bench/latency.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
