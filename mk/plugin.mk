# The LUKS2 token plugin, libcryptsetup-token-kmip.so: a fragment of the
# top-level Makefile, included after BUILD, CFLAGS, PKG_LIBS and LIB are set
# and before `all:` (whose prerequisites name $(PLUGIN)); the Makefile sets
# .DEFAULT_GOAL := all first, so that the targets here do not become the
# default goal of a plain `make`.
#
#   make plugin            build $(BUILD)/libcryptsetup-token-kmip.so
#   make install-plugin    copy it to $(DESTDIR)$(PLUGIN_DIR)
#   make uninstall-plugin  remove it from there
#   make print-plugin-dir  say where that is
#
# libcryptsetup (2.6.1 on Debian 12) loads external token plugins only from
# its own directory (no run-time override): ${libdir}/cryptsetup of its
# pkg-config file, /lib/x86_64-linux-gnu/cryptsetup on Debian.  Every hook
# symbol carries the version node CRYPTSETUP_TOKEN_1.0 (token_kmip.sym), or
# libcryptsetup rejects the plugin; every other symbol is local.
ifndef KMIPCRYPT_PLUGIN_MK
KMIPCRYPT_PLUGIN_MK := 1

PLUGIN_NAME    := libcryptsetup-token-kmip.so
PLUGIN_SRCS    := $(sort $(wildcard src/plugin/*.c))
PLUGIN_OBJS    := $(PLUGIN_SRCS:%.c=$(BUILD)/%.o)
PLUGIN_SYM     := src/plugin/token_kmip.sym
PLUGIN         := $(BUILD)/$(PLUGIN_NAME)
PLUGIN_LDFLAGS := -shared -Wl,--version-script,$(PLUGIN_SYM) \
		  -Wl,-z,relro,-z,now -Wl,-z,defs -Wl,-z,noexecstack -Wl,--as-needed
PLUGIN_DIR_FALLBACK := /lib/x86_64-linux-gnu/cryptsetup
PLUGIN_DIR     ?= $(or $(addsuffix /cryptsetup,$(shell pkg-config --variable=libdir libcryptsetup 2>/dev/null)),$(PLUGIN_DIR_FALLBACK))

.PHONY: plugin install-plugin uninstall-plugin print-plugin-dir
plugin: $(PLUGIN)

# Where install-plugin puts it (tests compare it with cryptsetup --help).
print-plugin-dir:
	@echo $(PLUGIN_DIR)

# The objects of libkmipcrypt.a are built with -fPIC (HARDEN), so they link
# into a shared object; -z defs: every symbol resolved here, none left to
# the loading program.
$(PLUGIN): $(PLUGIN_OBJS) $(LIB) $(PLUGIN_SYM)
	$(CC) $(CFLAGS) $(PLUGIN_LDFLAGS) $(EXTRA_LDFLAGS) -o $@ $(PLUGIN_OBJS) $(LIB) $(PKG_LIBS)

# The unit test links the plugin's objects directly and registers them
# in-process with crypt_token_register() (an explicit rule: it wins over the
# pattern rule for tests/unit/test_%).
$(BUILD)/tests/unit/test_plugin: tests/unit/test_plugin.c $(PLUGIN_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(PLUGIN_OBJS) $(LIB) $(PKG_LIBS) -lcmocka

install-plugin: $(PLUGIN)
	install -d -m 0755 $(DESTDIR)$(PLUGIN_DIR)
	install -m 0644 $(PLUGIN) $(DESTDIR)$(PLUGIN_DIR)/$(PLUGIN_NAME)

uninstall-plugin:
	rm -f $(DESTDIR)$(PLUGIN_DIR)/$(PLUGIN_NAME)

endif
