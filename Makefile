# kmipcrypt: top-level build.
#   make deps        the Debian packages needed to build and test (root, apt-get)
#   make             every product: $(BUILD)/kmipcrypt, $(BUILD)/kmipcrypt-ttlv,
#                    the token plugin and the daemon $(BUILD)/kmipcryptd
#   make check       unit tests (also ASan/UBSan, valgrind), fuzz replay, integration
#   make demo        the main job end to end against a local PyKMIP server
#   make install     the programs, the plugin, the manual pages, the systemd
#                    units and generator, the udev rules, the dracut module
#                    and the initramfs-tools scripts (DESTDIR, PREFIX)
#   make uninstall   removes exactly the files `make install` copied
#   make deb         the Debian package (debian/), in $(BUILD)/deb, checked by lintian
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
# journal), libudev (device events) and libseccomp (the poller's filter,
# daemon/sandbox.h); --gc-sections drops every function
# it does not call, and tests/integration/test-daemon.sh checks with nm that
# no Get, Decrypt or enroll code is left in it.
DAEMON_PKGS := libsystemd libudev libseccomp
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

# kmipcrypt links libsystemd too, for its audit entries in the journal
# (util/journal.h: `rekey` logs each rotation); the plugin does not.
CLI_LIBS    = $(shell pkg-config --libs libsystemd $(CORE_PKGS) 2>/dev/null)
$(CLI): $(CLI_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(CLI_LIBS)

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
UNIT_LIBS = $(LIB) $(CLI_LIBS)
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

# One list of installed files, INSTALL_FILES, so that uninstall removes
# exactly those: entries MODE:SOURCE:DESTINATION (DESTDIR not included).
# kmipcrypt-ttlv is not a command of its own: `kmipcrypt ttlv` runs it, from
# PREFIX/libexec/kmipcrypt (found relative to kmipcrypt itself, so that the
# installed tree works wherever PREFIX and DESTDIR put it; src/cli/main.c).
# The plugin goes to libcryptsetup's directory (PLUGIN_DIR, whatever the
# prefix); /etc/kmipcrypt is created for the configuration and left by
# uninstall with what it holds; so is the system user kmipcryptd that install
# creates for the daemon's poller (as Debian packages leave theirs).
PREFIX     ?= /usr
SBINDIR    := $(PREFIX)/sbin
LIBEXECDIR := $(PREFIX)/libexec/kmipcrypt
MANDIR     := $(PREFIX)/share/man

# The directories systemd, udev, dracut and initramfs-tools read our files
# from, as their pkg-config files say, or Debian 12's when a .pc file is
# absent (dracut's is not installed with it).  They are the system's, not
# PREFIX's: those programs look nowhere else (but /etc).  Each one can be
# given on the command line; pkg-config runs once per directory.
# $(call pc_dir,VAR,PC-VARIABLE,PC-PACKAGE,FALLBACK)
pc_dir = $(if $(filter undefined,$(origin $(1))),$(eval $(1) := $(or $(shell pkg-config --variable=$(2) $(3) 2>/dev/null),$(4))))
$(call pc_dir,UNITDIR,systemdsystemunitdir,systemd,/lib/systemd/system)
$(call pc_dir,SYSTEMD_GENERATOR_DIR,systemdsystemgeneratordir,systemd,/lib/systemd/system-generators)
$(call pc_dir,UDEV_DIR,udevdir,udev,/lib/udev)
$(call pc_dir,DRACUT_MODULES_DIR,dracutmodulesdir,dracut,/usr/lib/dracut/modules.d)
UDEV_RULES_DIR      ?= $(UDEV_DIR)/rules.d
INITRAMFS_TOOLS_DIR ?= /usr/share/initramfs-tools
DRACUT_MODULE       := 90kmipcrypt

# $(call inst,MODE,DIRECTORY,FILES): an entry MODE:FILE:DIRECTORY/NAME per file.
inst = $(foreach f,$(sort $(3)),$(1):$(f):$(2)/$(notdir $(f)))
# Everything under systemd/, udev/, dracut/ and initramfs-tools/ by
# wildcard, so that a unit, rule or script added there is installed (and
# uninstalled) with no change here.  Scripts that dracut and initramfs-tools
# run are executable; what they only copy is not.
INSTALL_FILES = \
	$(call inst,0755,$(SBINDIR),$(CLI) $(DAEMON)) \
	$(call inst,0755,$(LIBEXECDIR),$(TTLV)) \
	$(call inst,0644,$(PLUGIN_DIR),$(PLUGIN)) \
	$(call inst,0644,$(MANDIR)/man8,$(wildcard docs/*.8)) \
	$(call inst,0644,$(MANDIR)/man5,$(wildcard docs/*.5)) \
	$(call inst,0644,$(UNITDIR),$(wildcard systemd/*.service systemd/*.target systemd/*.path systemd/*.timer)) \
	$(call inst,0755,$(SYSTEMD_GENERATOR_DIR),$(wildcard systemd/kmipcrypt-generator)) \
	$(call inst,0644,$(UDEV_RULES_DIR),$(wildcard udev/*.rules)) \
	$(call inst,0755,$(DRACUT_MODULES_DIR)/$(DRACUT_MODULE),$(wildcard dracut/$(DRACUT_MODULE)/*.sh)) \
	$(call inst,0644,$(DRACUT_MODULES_DIR)/$(DRACUT_MODULE),$(filter-out %.sh,$(wildcard dracut/$(DRACUT_MODULE)/*))) \
	$(call inst,0755,$(INITRAMFS_TOOLS_DIR)/hooks,$(wildcard initramfs-tools/hooks/*)) \
	$(foreach d,$(sort $(notdir $(wildcard initramfs-tools/scripts/*))), \
		$(call inst,0755,$(INITRAMFS_TOOLS_DIR)/scripts/$(d),$(wildcard initramfs-tools/scripts/$(d)/*))) \
	$(call inst,0644,$(INITRAMFS_TOOLS_DIR)/conf-hooks.d,$(wildcard initramfs-tools/conf-hooks.d/*))
# Directories that hold nothing but ours: removed by uninstall when empty.
OWN_DIRS = $(LIBEXECDIR) $(DRACUT_MODULES_DIR)/$(DRACUT_MODULE)

# Units name the programs by absolute path (/usr/sbin/kmipcrypt...): an
# installed unit, the dracut module's included, names them where this
# install put them.
install: $(CLI) $(TTLV) $(DAEMON) $(PLUGIN)
	@set -e; for e in $(INSTALL_FILES); do \
		mode=$${e%%:*}; src=$${e#*:}; src=$${src%%:*}; dst="$(DESTDIR)$${e##*:}"; \
		echo "install -D -m $$mode $$src $$dst"; \
		install -D -m $$mode "$$src" "$$dst"; \
		case $$src in *.service) sed -i 's|/usr/sbin/kmipcrypt|$(SBINDIR)/kmipcrypt|g' "$$dst" ;; esac; \
	done
	install -d -m 0700 $(DESTDIR)/etc/kmipcrypt
	@# The daemon's poller runs as this user ([daemon] user); a real install only.
	if [ -z "$(DESTDIR)" ] && ! getent passwd kmipcryptd >/dev/null; then \
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin kmipcryptd; fi

uninstall:
	@for e in $(INSTALL_FILES); do \
		echo "rm -f $(DESTDIR)$${e##*:}"; rm -f "$(DESTDIR)$${e##*:}"; done
	@for d in $(OWN_DIRS); do \
		if [ -d "$(DESTDIR)$$d" ]; then rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d"; fi; done

# Where install-plugin puts it (tests compare it with cryptsetup --help).
print-plugin-dir:
	@echo $(PLUGIN_DIR)

# Every file install puts in place, one path a line, without DESTDIR (for
# checks of the documentation, which names them).
.PHONY: print-install-files
print-install-files:
	@for e in $(INSTALL_FILES); do echo "$${e##*:}"; done

# The plugin alone (its entry of INSTALL_FILES).
install-plugin: $(PLUGIN)
	install -D -m 0644 $(PLUGIN) $(DESTDIR)$(PLUGIN_DIR)/$(PLUGIN_NAME)

uninstall-plugin:
	rm -f $(DESTDIR)$(PLUGIN_DIR)/$(PLUGIN_NAME)

# The Debian package (debian/): dpkg-buildpackage runs in a copy of the tree
# in $(DEB_DIR)/src, so that the tree stays clean (debhelper writes into
# debian/, dpkg-buildpackage puts its output beside the tree); build
# directories, logs and version control are not copied.  The packages, the
# .changes and the .buildinfo go to $(DEB_DIR), lintian checks them (an
# error fails the target, warnings are shown), and the .deb's path is
# printed last.
DEB_DIR = $(BUILD)/deb
.PHONY: deb
deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src/kmipcrypt
	tar -c --exclude-vcs --exclude='./build' --exclude='./build-*' --exclude='./$(BUILD)' \
		--exclude='./$(DEB_DIR)' --exclude='*.log' -f $(DEB_DIR)/src/tree.tar .
	tar -x -f $(DEB_DIR)/src/tree.tar -C $(DEB_DIR)/src/kmipcrypt
	rm -f $(DEB_DIR)/src/tree.tar
	cd $(DEB_DIR)/src/kmipcrypt && dpkg-buildpackage -b -us -uc -jauto
	find $(DEB_DIR)/src -maxdepth 1 -type f -exec mv -t $(DEB_DIR) {} +
	rm -rf $(DEB_DIR)/src
	lintian --fail-on error $(DEB_DIR)/*.changes
	@echo "deb: $$(ls $(DEB_DIR)/kmipcrypt_*.deb)"

fuzz:
	./tests/fuzz/run.sh $(SECONDS)

bench:
	./bench/run.sh && ./bench/latency.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
