# kmipcrypt: top-level build.
#   make deps        the Debian packages needed to build and test (root, apt-get)
#   make             every product: $(BUILD)/kmipcrypt, $(BUILD)/kmipcrypt-ttlv,
#                    the token plugin and the daemon $(BUILD)/kmipcryptd
#   make check       unit tests (also ASan/UBSan, valgrind), fuzz replay, integration
#   make demo        the main job end to end against a local PyKMIP server
#   make install     the programs, the plugin, the manual pages (DESTDIR, PREFIX)
#   make uninstall   removes exactly the files `make install` copied
#   make plugin      the token plugin only; `make print-plugin-dir`: where it installs
#
# Two libraries, so that each program links only what it uses:
#   libkmipcrypt.a       the core: everything the unlock path, the token
#                        plugin and the daemon need (TTLV codec with its
#                        names and text form, KMIP, transport, device-mapper,
#                        config, LUKS2); it must not need libxml2
#   libkmipcrypt-ttlv.a  the TTLV tools on top of it: the XML form (libxml2,
#                        which brings ICU and libstdc++ with it)
# kmipcrypt, kmipcryptd and the plugin link the core only; `kmipcrypt ttlv ...` runs the
# separate program kmipcrypt-ttlv (src/cli/cmd_ttlv.c), which links both.
# tests/integration/test-links.sh fails if libxml2, ICU or libstdc++ comes
# back into kmipcrypt or the plugin.
CORE_PKGS  := libcryptsetup libssl libcrypto devmapper blkid json-c
XML_PKGS   := libxml-2.0
CC         ?= gcc
CORE_CFLAGS = $(shell pkg-config --cflags $(CORE_PKGS) 2>/dev/null)
CORE_LIBS   = $(shell pkg-config --libs $(CORE_PKGS) 2>/dev/null)
XML_CFLAGS  = $(shell pkg-config --cflags $(XML_PKGS) 2>/dev/null)
# kmipcrypt-ttlv links the core too; --as-needed keeps of these only what it
# calls (today libxml2 alone).
TTLV_LIBS   = $(shell pkg-config --libs $(XML_PKGS) $(CORE_PKGS) 2>/dev/null)
HARDEN     := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIC -fstack-clash-protection
# One section per function and object, so that a program linked with
# --gc-sections keeps only what it calls (the daemon: no Get, no Decrypt).
SECTIONS   := -ffunction-sections -fdata-sections
WARN       := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
OPT        ?= -O2 -g
VERSION    := 0.1
# libxml2's headers are on the include path of the XML sources only, so that
# a core source that includes them does not compile.
CFLAGS     += -std=gnu11 $(OPT) $(WARN) $(HARDEN) $(SECTIONS) -Isrc -DKMIPCRYPT_VERSION='"$(VERSION)"' \
	      $(CORE_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS    += -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(EXTRA_LDFLAGS)
BUILD      ?= build

TTLV_LIB_SRCS := src/ttlv/xml.c
LIB_SRCS   := $(filter-out $(TTLV_LIB_SRCS),$(sort $(wildcard src/util/*.c src/ttlv/*.c src/net/*.c src/dm/*.c src/kmip/*.c src/conf/*.c src/luks/*.c)))
TTLV_SRCS  := src/cli/cmd_ttlv.c
CLI_SRCS   := $(filter-out $(TTLV_SRCS),$(sort $(wildcard src/cli/*.c)))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
TTLV_LIB_OBJS := $(TTLV_LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS   := $(CLI_SRCS:%.c=$(BUILD)/%.o)
TTLV_OBJS  := $(TTLV_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:%.c=$(BUILD)/%)
# The unit tests of the XML form (below).
UNIT_TTLV_BINS := $(patsubst %.c,$(BUILD)/%,$(shell grep -l '"ttlv/xml.h"' $(UNIT_SRCS) /dev/null 2>/dev/null))
LIB        := $(BUILD)/libkmipcrypt.a
TTLV_LIB   := $(BUILD)/libkmipcrypt-ttlv.a
CLI        := $(BUILD)/kmipcrypt
TTLV       := $(BUILD)/kmipcrypt-ttlv

# The revocation daemon (daemon/): the core, libsystemd (sd_notify, the
# journal) and libudev (device events); --gc-sections drops every function
# it does not call, and tests/integration/test-daemon.sh checks with nm that
# no Get, Decrypt or enroll code is left in it.
DAEMON_PKGS := libsystemd libudev
DAEMON_LIBS  = $(shell pkg-config --libs $(DAEMON_PKGS) $(CORE_PKGS) 2>/dev/null)
DAEMON_SRCS := $(sort $(wildcard daemon/*.c))
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
DAEMON_LIB_OBJS := $(filter-out $(BUILD)/daemon/kmipcryptd.o,$(DAEMON_OBJS))
DAEMON     := $(BUILD)/kmipcryptd

# The LUKS2 token plugin, libcryptsetup-token-kmip.so.  libcryptsetup (2.6.1
# on Debian 12) loads external token plugins only from its own directory (no
# run-time override): ${libdir}/cryptsetup of its pkg-config file,
# /lib/x86_64-linux-gnu/cryptsetup on Debian.  Every hook symbol carries the
# version node CRYPTSETUP_TOKEN_1.0 (token_kmip.sym), or libcryptsetup
# rejects the plugin; every other symbol is local.
PLUGIN_NAME    := libcryptsetup-token-kmip.so
PLUGIN_SRCS    := $(sort $(wildcard src/plugin/*.c))
PLUGIN_OBJS    := $(PLUGIN_SRCS:%.c=$(BUILD)/%.o)
PLUGIN_SYM     := src/plugin/token_kmip.sym
PLUGIN         := $(BUILD)/$(PLUGIN_NAME)
PLUGIN_LDFLAGS := -shared -Wl,--version-script,$(PLUGIN_SYM) \
		  -Wl,-z,relro,-z,now -Wl,-z,defs -Wl,-z,noexecstack -Wl,--as-needed
PLUGIN_DIR_FALLBACK := /lib/x86_64-linux-gnu/cryptsetup
PLUGIN_DIR     ?= $(or $(addsuffix /cryptsetup,$(shell pkg-config --variable=libdir libcryptsetup 2>/dev/null)),$(PLUGIN_DIR_FALLBACK))

.PHONY: all deps check unit integration demo clean asan valgrind install uninstall fuzz bench \
	plugin install-plugin uninstall-plugin print-plugin-dir
# The products only: the unit test binaries (which need cmocka) are built by
# `make unit` and `make check`.
all: $(CLI) $(TTLV) $(PLUGIN) $(DAEMON)
plugin: $(PLUGIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(TTLV_LIB_OBJS): CFLAGS += $(XML_CFLAGS)
$(DAEMON_OBJS): CFLAGS += -I.

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(TTLV_LIB): $(TTLV_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(CORE_LIBS)

$(TTLV): $(TTLV_OBJS) $(TTLV_LIB) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TTLV_OBJS) $(TTLV_LIB) $(LIB) $(TTLV_LIBS)

$(DAEMON): $(DAEMON_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,--gc-sections -o $@ $(DAEMON_OBJS) $(LIB) $(DAEMON_LIBS)

# The objects of libkmipcrypt.a are built with -fPIC (HARDEN), so they link
# into a shared object; -z defs: every symbol resolved here, none left to
# the loading program.
$(PLUGIN): $(PLUGIN_OBJS) $(LIB) $(PLUGIN_SYM)
	$(CC) $(CFLAGS) $(PLUGIN_LDFLAGS) $(EXTRA_LDFLAGS) -o $@ $(PLUGIN_OBJS) $(LIB) $(CORE_LIBS)

# Unit tests link the core; those of the XML form (every one that includes
# ttlv/xml.h) the TTLV tools library and libxml2 too.  Own variables, not
# CFLAGS: a target's variables reach the objects it builds on the way.
UNIT_CFLAGS =
UNIT_LIBS = $(LIB) $(CORE_LIBS)
$(UNIT_TTLV_BINS): $(TTLV_LIB)
$(UNIT_TTLV_BINS): UNIT_CFLAGS = $(XML_CFLAGS)
$(UNIT_TTLV_BINS): UNIT_LIBS = $(TTLV_LIB) $(LIB) $(TTLV_LIBS)
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(UNIT_CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(UNIT_LIBS) -lcmocka

# The daemon's unit test links its objects but its main() (an explicit rule:
# it wins over the pattern rule for tests/unit/test_%).
$(BUILD)/tests/unit/test_daemon: tests/unit/test_daemon.c $(DAEMON_LIB_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I. -MMD -MP $(LDFLAGS) -o $@ $< $(DAEMON_LIB_OBJS) $(LIB) $(DAEMON_LIBS) -lcmocka

# The plugin's unit test links the plugin's objects directly and registers
# them in-process with crypt_token_register() (an explicit rule: it wins over
# the pattern rule for tests/unit/test_%).
$(BUILD)/tests/unit/test_plugin: tests/unit/test_plugin.c $(PLUGIN_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(PLUGIN_OBJS) $(LIB) $(CORE_LIBS) -lcmocka

deps:
	@./.ci/deps.sh

unit: $(UNIT_BINS)
	@./tests/run-unit.sh $(UNIT_BINS)

integration: all
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
	$(MAKE) $(CLI) $(TTLV)
	@./tests/lab/demo.sh $(CLI)

# One list of installed files, so that uninstall removes exactly those.
# kmipcrypt-ttlv is not a command of its own: `kmipcrypt ttlv` runs it, from
# PREFIX/libexec/kmipcrypt (found relative to kmipcrypt itself, so that the
# installed tree works wherever PREFIX and DESTDIR put it; src/cli/main.c).
# The plugin goes to libcryptsetup's directory (PLUGIN_DIR, whatever the
# prefix); /etc/kmipcrypt is created for the configuration and left by
# uninstall with what it holds; so is the system user kmipcryptd that install
# creates for the daemon's poller (as Debian packages leave theirs).
PREFIX     ?= /usr
LIBEXECDIR := $(PREFIX)/libexec/kmipcrypt
UNITDIR    ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
MAN8       := $(notdir $(wildcard docs/*.8))
MAN5       := kmipcrypt.conf.5
install: $(CLI) $(TTLV) $(DAEMON) install-plugin
	install -D -m 0755 $(CLI) $(DESTDIR)$(PREFIX)/sbin/kmipcrypt
	install -D -m 0755 $(DAEMON) $(DESTDIR)$(PREFIX)/sbin/kmipcryptd
	install -D -m 0644 systemd/kmipcryptd.service $(DESTDIR)$(UNITDIR)/kmipcryptd.service
	install -D -m 0755 $(TTLV) $(DESTDIR)$(LIBEXECDIR)/kmipcrypt-ttlv
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man8 $(addprefix docs/,$(MAN8))
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man5 $(addprefix docs/,$(MAN5))
	install -d -m 0700 $(DESTDIR)/etc/kmipcrypt
	@# The daemon's poller runs as this user ([daemon] user); a real install only.
	if [ -z "$(DESTDIR)" ] && ! getent passwd kmipcryptd >/dev/null; then \
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin kmipcryptd; fi

# The libexec directory is ours alone: removed when empty.
uninstall: uninstall-plugin
	rm -f $(DESTDIR)$(PREFIX)/sbin/kmipcrypt $(DESTDIR)$(PREFIX)/sbin/kmipcryptd
	rm -f $(DESTDIR)$(UNITDIR)/kmipcryptd.service
	rm -f $(DESTDIR)$(LIBEXECDIR)/kmipcrypt-ttlv
	if [ -d $(DESTDIR)$(LIBEXECDIR) ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$(LIBEXECDIR); fi
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man8/,$(MAN8))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man5/,$(MAN5))

# Where install-plugin puts it (tests compare it with cryptsetup --help).
print-plugin-dir:
	@echo $(PLUGIN_DIR)

install-plugin: $(PLUGIN)
	install -d -m 0755 $(DESTDIR)$(PLUGIN_DIR)
	install -m 0644 $(PLUGIN) $(DESTDIR)$(PLUGIN_DIR)/$(PLUGIN_NAME)

uninstall-plugin:
	rm -f $(DESTDIR)$(PLUGIN_DIR)/$(PLUGIN_NAME)

fuzz:
	./tests/fuzz/run.sh $(SECONDS)

bench:
	./bench/run.sh && ./bench/latency.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
