/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /etc/kmipcrypt/kmipcrypt.conf: INI with one section per server group
 * ([default], [dc2], ...), a reserved [daemon] section for kmipcryptd and
 * [volume NAME] sections (kmipcryptd's settings of one mapping, over
 * [daemon]'s).  Errors name the file, the line and the key:
 * "FILE:LINE: key 'K': what is wrong".
 * The syntax and every key are documented in kmipcrypt.conf(5).
 *
 * Strictness is deliberate: unknown keys, duplicate keys and sections,
 * overlong lines and malformed values are errors, never ignored, because a
 * silently ignored typo in a security setting ("pin_sha265") would turn a
 * check off.  All errors of a file are reported, then -EINVAL returned; one
 * mistake gives one error, not a cascade (the keys after a bad or missing
 * section header are not reported again).
 *
 * Encoding: ASCII or UTF-8.  A UTF-8 byte-order mark at the start (as some
 * Windows editors write) is skipped: it has no meaning in UTF-8, and an
 * invisible character is the last thing an operator would look for.  A
 * UTF-16 file is refused with one error.
 *
 * Errors found later, about a value the file gave (a CA file that cannot be
 * read, an unknown cipher, a key that does not match the certificate), name
 * where the key was set: "FILE:LINE: [GROUP] KEY: what is wrong" (see
 * config_group.where).
 */
#ifndef KMIPCRYPT_CONFIG_H
#define KMIPCRYPT_CONFIG_H

#include <stdbool.h>
#include "kmip/kmip.h"
#include "net/transport.h"

#define KMIPCRYPT_CONF_PATH   "/etc/kmipcrypt/kmipcrypt.conf"
#define CONFIG_NAME_MAX       64		/* group name, NUL included */
#define CONFIG_LINE_MAX       4096		/* bytes per line, newline excluded */
#define CONFIG_FILE_MAX       (256 * 1024)	/* bytes per file */
#define CONFIG_GROUPS_MAX     64
#define CONFIG_PASSWORD_MAX   1024		/* bytes of a key password */
#define CONFIG_TIMEOUT_MS_DEFAULT 5000
#define CONFIG_POLL_INTERVAL_DEFAULT 30
#define CONFIG_ROTATE_AFTER_MAX (3650u * 86400u)	/* seconds: ten years */


struct config_group {
	char name[CONFIG_NAME_MAX];
	struct transport_opts tls;	/* strings below are owned by the group */
	/* Paths: absolute, or relative to the config file's directory in the file. */
	char *ca, *cert, *key, *key_password_file, *cipher_suites;
	int kmip_version;		/* 0 = auto (Discover Versions), else KMIP_VERSION() */
	/*
	 * The KMIP Object Group that enroll gives this host's objects on the
	 * group's servers: printable text (util/escape.h text_is_printable()),
	 * 1 to KMIP_TEXT_MAX bytes, not the group enroll reserves for its
	 * unfinished envelope keys.  NULL: the host's own default
	 * (luks_host_object_group(), token.h).
	 */
	char *object_group;
	/*
	 * Rotation policy (rotate_after): a key of this group is due for
	 * rotation once this many seconds have passed since its Activation
	 * Date (its Initial Date where the server keeps none): `kmipcrypt
	 * status` marks it, `kmipcrypt rekey --due` rotates it.  0: no policy,
	 * keys are never due.  At most CONFIG_ROTATE_AFTER_MAX.
	 */
	unsigned rotate_after_s;
	/*
	 * Locked memory (secmem): the inline key_password, or the content of
	 * key_password_file once config_group_load_password() has read it.
	 * tls.key_password points here.  Wiped by config_free().
	 */
	char *key_password;
	/*
	 * Where each transport setting was made, for every later error about
	 * it (transport_new(), reading key_password_file): "FILE:LINE: [GROUP]
	 * KEY" for a key of the file, "FILE:LINE: [GROUP] KEY" with the line of
	 * the group's header for a key left to its default, "ORIGIN: [GROUP]
	 * KEY" after config_group_set(); NULL (the bare key name) for
	 * config_new_empty().  tls.where points here.
	 */
	char *where[TRANSPORT_SET_MAX];
};

#define CONFIG_VOLUMES_MAX    256		/* [volume NAME] sections */
#define CONFIG_VOLUME_NAME_MAX 128		/* a mapping name with its NUL (DM_NAME_LEN) */
#define CONFIG_STATE_FILE_DEFAULT "/run/kmipcryptd/state.json"
#define CONFIG_DAEMON_USER_DEFAULT "kmipcryptd"

/* What kmipcryptd does to a volume whose key is revoked (kmipcryptd(8)). */
enum daemon_action { DAEMON_ACTION_SUSPEND = 0, DAEMON_ACTION_CLOSE, DAEMON_ACTION_NONE };
/* How kmipcryptd reads a State that is not plainly fine or revoked. */
enum daemon_policy { DAEMON_POLICY_REVOKED = 0, DAEMON_POLICY_IGNORE };

/* A [volume NAME] section: settings of one mapping, over [daemon]'s. */
struct config_volume {
	char name[CONFIG_VOLUME_NAME_MAX];	/* the mapping, /dev/mapper/NAME */
	bool action_set;
	enum daemon_action action;
	bool exec_set;
	char *exec;			/* NULL with exec_set: "exec =" (none for this volume) */
};

struct config_daemon {
	unsigned poll_interval_s;	/* default 30 */
	unsigned offline_grace_s;	/* 0 = unlimited */
	enum daemon_action action;	/* default suspend */
	char *exec;			/* absolute program path [args], run after the action; NULL: none */
	enum daemon_policy pre_active;	/* default ignore */
	enum daemon_policy permission_denied;	/* default revoked */
	char user[64];			/* the poller's user, default "kmipcryptd" */
	char state_file[256];		/* absolute path, default CONFIG_STATE_FILE_DEFAULT */
};

struct config {
	char *path;			/* NULL for config_new_empty() */
	struct config_group *groups;
	unsigned n_groups;
	struct config_daemon daemon;
	struct config_volume *volumes;
	unsigned n_volumes;
};

/*
 * Load and validate.  -ENOENT if the file is missing (logged at debug level
 * only: the caller decides whether that is an error), -EINVAL on errors in
 * the file (each logged with file:line), -EFBIG if larger than
 * CONFIG_FILE_MAX, -EPERM if writable by "other" or owned by neither root
 * nor the effective user, other -errno if unreadable.  A file with no server group
 * is valid: config_group() then returns NULL.
 */
int config_load(const char *path, struct config **out);
/* A config with one group, "default", and defaults only (for command-line setups). */
int config_new_empty(struct config **out);
/* The group by name (NULL: "default"); NULL if absent. */
struct config_group *config_group(struct config *c, const char *name);
/*
 * Apply one "key = value" to a group as the file would (for command-line
 * overrides): same keys, same checks, errors logged as "ORIGIN: key 'K': ...",
 * -EINVAL.  A value replaces the file's; key_password and key_password_file
 * replace each other.  Relative paths stay relative (to the working
 * directory).  On error the group is unchanged.
 */
int config_group_set(struct config_group *g, const char *key, const char *value,
		     const char *origin);
/* The same for a [daemon] key. */
int config_daemon_set(struct config_daemon *d, const char *key, const char *value,
		      const char *origin);
/*
 * Is the group complete: at least one server, cert and key both set,
 * a key password only with a key?  config_load() checks every group of the
 * file; call it again after config_group_set() overrides.  0 or -EINVAL
 * (logged, prefixed with origin).
 */
int config_group_validate(const struct config_group *g, const char *origin);
/* The [daemon] section as a whole.  0 or -EINVAL (logged). */
int config_daemon_validate(const struct config_daemon *d, const char *origin);
/* The [volume NAME] section of mapping name, or NULL. */
const struct config_volume *config_volume(const struct config *c, const char *name);
/*
 * Read key_password_file into locked memory and point tls.key_password at
 * it: at most CONFIG_PASSWORD_MAX bytes, one trailing newline stripped, no
 * NUL byte, not empty; a regular file for its owner only
 * (file_check_secret(): -EACCES).  Errors are logged with where the key was
 * set.  0 if the group has no key_password_file or already holds a password.
 */
int config_group_load_password(struct config_group *g);
/*
 * A duration in whole seconds as the file would write it, in the largest
 * unit that divides it: "90d", "36h", "5m", "45s" (0: "0s").  Returns buf.
 */
const char *config_duration_text(unsigned s, char *buf, size_t len);
/* Frees everything; wipes the key password.  NULL is fine. */
void config_free(struct config *c);
/*
 * Wipe and drop every group's key password (the inline one, or one read from
 * key_password_file), for a process that reads the configuration but never
 * loads a client key (kmipcryptd's locker).  The rest stays usable; a later
 * config_group_load_password() reads key_password_file again.
 */
void config_forget_secrets(struct config *c);
/*
 * Group (NULL: "default") of cfg, with its key password loaded from
 * key_password_file if set: what every user of a group needs first.
 * -EINVAL (logged: no such group) or the password's error (logged, with
 * where the setting was made).
 */
int conf_group_ready(struct config *cfg, const char *group, struct config_group **out);
/*
 * A KMIP session with group (NULL: "default") of cfg (conf_group_ready()), bounded by deadline
 * (kmip_session_open()): the group's key password loaded first.  The
 * session uses the group's settings: cfg must outlive it.  -EINVAL (logged)
 * if cfg has no such group; errors of the credentials are logged with where
 * the setting was made.
 */
int conf_session_open(struct config *cfg, const char *group, int64_t deadline,
		      struct kmip_session **out);

#endif
