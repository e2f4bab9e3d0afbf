// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kmipcrypt.conf: see config.h and kmipcrypt.conf(5).
 *
 * The file is read whole into locked memory (it may hold a key_password),
 * bounded by CONFIG_FILE_MAX, split into lines in place and wiped when done.
 * Every key goes through one setter that both the file and command-line
 * overrides use, so that the two cannot drift apart in what they accept.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/tls1.h>

#include "conf/config.h"
#include "util/escape.h"
#include "util/file.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/strnum.h"

/* Past this many, more messages only bury the first (and real) mistake. */
#define CONFIG_ERRORS_MAX 20
/* Longest slice of a bad value or key quoted back in a message. */
#define SHOW 64

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Where a value comes from: for messages, relative paths and permissions. */
struct origin {
	const char *where;		/* "FILE:LINE" or e.g. "command line" */
	const char *base_dir;		/* relative paths are relative to it; NULL: kept */
	const char *file;		/* the config file, NULL if not from a file */
	const struct stat *file_st;	/* its fstat(), NULL if not from a file */
};

static int cfg_error(const char *where, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "WHERE: key 'K': what", the one shape of every configuration error. */
static int cfg_error(const char *where, const char *key, const char *fmt, ...)
{
	char what[LOG_LINE_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (key)
		log_error("%s: key '%.*s': %s", where, SHOW, key, what);
	else
		log_error("%s: %s", where, what);
	return -EINVAL;
}

static int dup_string(char **dst, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* The transport options point at the group's strings: keep them in step. */
static void group_sync_tls(struct config_group *g)
{
	g->tls.ca_file = g->ca;
	g->tls.cert_file = g->cert;
	g->tls.key_file = g->key;
	g->tls.cipher_suites = g->cipher_suites;
	g->tls.key_password = g->key_password;
	memcpy(g->tls.where, g->where, sizeof(g->tls.where));
}

/* g->where[s] = "ORIGIN: [GROUP] KEY" (see config.h).  0 or -ENOMEM. */
static int group_set_where(struct config_group *g, int s, const char *origin, const char *key)
{
	int n = snprintf(NULL, 0, "%s: [%s] %s", origin, g->name, key);
	char *w;

	if (n < 0 || !(w = malloc((size_t)n + 1)))
		return -ENOMEM;
	snprintf(w, (size_t)n + 1, "%s: [%s] %s", origin, g->name, key);
	free(g->where[s]);
	g->where[s] = w;
	return 0;
}

/* ---- group keys ---------------------------------------------------- */

struct group_key {
	const char *name;
	int (*set)(struct config_group *g, const struct group_key *k,
		   const char *value, const struct origin *o);
	size_t field;		/* offsetof() of a char * field, for strings and paths */
	int setting;		/* enum transport_setting, -1: none */
};

static char **group_field(struct config_group *g, const struct group_key *k)
{
	return (char **)((char *)g + k->field);
}

static int set_path(struct config_group *g, const struct group_key *k,
		    const char *value, const struct origin *o)
{
	size_t dlen, vlen = strlen(value);
	char *p = NULL;
	int r;

	if (value[0] != '/' && o->base_dir) {
		dlen = strlen(o->base_dir);
		if (dlen + 1 + vlen >= PATH_MAX) {
			r = cfg_error(o->where, k->name, "path too long");
			goto out;
		}
		p = malloc(dlen + 1 + vlen + 1);
		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		/* Bounded above: dlen + 1 + vlen + 1 bytes exactly. */
		memcpy(p, o->base_dir, dlen);
		p[dlen] = '/';
		memcpy(p + dlen + 1, value, vlen + 1);
	} else {
		if (vlen >= PATH_MAX) {
			r = cfg_error(o->where, k->name, "path too long");
			goto out;
		}
		p = strdup(value);
		if (!p) {
			r = -ENOMEM;
			goto out;
		}
	}
	free(*group_field(g, k));
	*group_field(g, k) = p;
	p = NULL;
	r = 0;
out:
	free(p);
	return r;
}

static int set_key_password_file(struct config_group *g, const struct group_key *k,
				 const char *value, const struct origin *o)
{
	int r;

	r = set_path(g, k, value, o);
	if (r < 0)
		goto out;
	/* The last one set wins: an override replaces the file's inline password. */
	secmem_free(g->key_password);
	g->key_password = NULL;
out:
	return r;
}

static int set_key_password(struct config_group *g, const struct group_key *k,
			    const char *value, const struct origin *o)
{
	size_t len = strlen(value);
	char *pw;
	int r;

	/* Never quote the value back: it is a secret.  The file holds it: a secret file. */
	if (o->file_st) {
		char where[PATH_MAX + 64];

		snprintf(where, sizeof(where), "%s: key '%s'", o->where, k->name);
		r = file_check_secret(o->file, o->file_st, where);
		if (r < 0) {
			r = -EINVAL;	/* one of the file's errors */
			goto out;
		}
	}
	if (len > CONFIG_PASSWORD_MAX) {
		r = cfg_error(o->where, k->name, "longer than %d bytes",
			      CONFIG_PASSWORD_MAX);
		goto out;
	}
	pw = secmem_dup(value, len);
	if (!pw) {
		r = -errno;
		log_error("%s: key '%s': cannot lock memory for the password: %s",
			  o->where, k->name, strerror(errno));
		goto out;
	}
	secmem_free(g->key_password);
	g->key_password = pw;
	free(g->key_password_file);
	g->key_password_file = NULL;
	r = 0;
out:
	return r;
}

static int set_string(struct config_group *g, const struct group_key *k,
		      const char *value, const struct origin *o)
{
	return dup_string(group_field(g, k), value);
}

static int set_servers(struct config_group *g, const struct group_key *k,
		       const char *value, const struct origin *o)
{
	struct server_addr list[TRANSPORT_MAX_SERVERS];
	char tok[TRANSPORT_HOST_MAX + 16];
	const char *p = value;
	unsigned n = 0, i;
	size_t tlen;
	int r;

	memset(list, 0, sizeof(list));
	for (;;) {
		p += strspn(p, ", \t");
		if (!*p)
			break;
		tlen = strcspn(p, ", \t");
		if (n == TRANSPORT_MAX_SERVERS) {
			r = cfg_error(o->where, k->name, "more than %d servers",
				      TRANSPORT_MAX_SERVERS);
			goto out;
		}
		if (tlen >= sizeof(tok)) {
			r = cfg_error(o->where, k->name, "'%.*s...' is too long",
				      SHOW, p);
			goto out;
		}
		memcpy(tok, p, tlen);
		tok[tlen] = '\0';
		p += tlen;
		if (server_addr_parse(tok, &list[n]) < 0) {
			r = cfg_error(o->where, k->name,
				      "'%.*s' is not HOST, HOST:PORT, [IPv6] or "
				      "[IPv6]:PORT (PORT 1-65535)", SHOW, tok);
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (list[i].port == list[n].port &&
			    !strcasecmp(list[i].host, list[n].host)) {
				r = cfg_error(o->where, k->name,
					      "'%.*s' is listed twice", SHOW, tok);
				goto out;
			}
		}
		n++;
	}
	if (n == 0) {
		r = cfg_error(o->where, k->name, "no server given");
		goto out;
	}
	memcpy(g->tls.servers, list, sizeof(list));
	g->tls.n_servers = n;
	r = 0;
out:
	return r;
}

static int set_timeout_ms(struct config_group *g, const struct group_key *k,
			  const char *value, const struct origin *o)
{
	unsigned long long v;
	int r;

	r = parse_uint(value, 1, 600000, &v);
	if (r < 0) {
		r = cfg_error(o->where, k->name,
			      "'%.*s' is not a whole number of milliseconds "
			      "from 1 to 600000", SHOW, value);
		goto out;
	}
	g->tls.timeout_ms = (unsigned)v;
out:
	return r;
}

static const struct {
	const char *name;
	int version;
} kmip_versions[] = {
	{ "auto", 0 },
	{ "1.0", KMIP_VERSION(1, 0) },
	{ "1.1", KMIP_VERSION(1, 1) },
	{ "1.2", KMIP_VERSION(1, 2) },
	{ "1.3", KMIP_VERSION(1, 3) },
	{ "1.4", KMIP_VERSION(1, 4) },
	{ "2.0", KMIP_VERSION(2, 0) },
	{ "2.1", KMIP_VERSION(2, 1) },
};

static int set_kmip_version(struct config_group *g, const struct group_key *k,
			    const char *value, const struct origin *o)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kmip_versions); i++) {
		if (!strcmp(value, kmip_versions[i].name)) {
			g->kmip_version = kmip_versions[i].version;
			return 0;
		}
	}
	return cfg_error(o->where, k->name,
			 "'%.*s' is not one of auto, 1.0, 1.1, 1.2, 1.3, 1.4, 2.0, 2.1",
			 SHOW, value);
}

static int set_tls_min_version(struct config_group *g, const struct group_key *k,
			       const char *value, const struct origin *o)
{
	/* Both spellings: "1.2" as documented, "TLSv1.2" as OpenSSL writes it. */
	if (!strcmp(value, "1.2") || !strcmp(value, "TLSv1.2")) {
		g->tls.tls_min_version = TLS1_2_VERSION;
		return 0;
	}
	if (!strcmp(value, "1.3") || !strcmp(value, "TLSv1.3")) {
		g->tls.tls_min_version = TLS1_3_VERSION;
		return 0;
	}
	return cfg_error(o->where, k->name,
			 "'%.*s' is not 1.2 or 1.3 (older TLS versions are not supported)",
			 SHOW, value);
}

/*
 * Both spellings of the SHA-256 of the server's SubjectPublicKeyInfo:
 * 64 hex digits, or curl's --pinnedpubkey "sha256//BASE64".
 */
static int set_pin_sha256(struct config_group *g, const struct group_key *k,
			  const char *value, const struct origin *o)
{
	uint8_t pin[32];
	size_t len = strlen(value);

	if (len == 2 * sizeof(pin) && hex_decode(value, len, pin, sizeof(pin)) == 0)
		goto ok;
	if (!strncmp(value, "sha256//", 8) &&
	    base64_decode(value + 8, len - 8, pin, sizeof(pin)) == (int)sizeof(pin))
		goto ok;
	return cfg_error(o->where, k->name,
			 "'%.*s' is neither 64 hex digits nor sha256//BASE64 "
			 "(the SHA-256 of the server's public key)", SHOW, value);
ok:
	memcpy(g->tls.pin_sha256, pin, sizeof(pin));
	g->tls.has_pin = true;
	return 0;
}

/*
 * The Object Group enroll puts its objects in on this group's servers.  The
 * rule of enroll --object-group (luks_enroll_check()): text that prints as it
 * is wherever the object is listed later, at most what KMIP_TEXT_SIZE holds.
 */
static int set_object_group(struct config_group *g, const struct group_key *k,
			    const char *value, const struct origin *o)
{
	if (strlen(value) > KMIP_TEXT_MAX)
		return cfg_error(o->where, k->name, "longer than %u bytes", KMIP_TEXT_MAX);
	if (!text_is_printable(value))
		return cfg_error(o->where, k->name, "not printable text (invalid UTF-8, or a "
				 "control character)");
	/*
	 * luks.h LUKS_ENROLL_PENDING_GROUP: it marks envelope keys that no
	 * token names yet, and key list calls every object in it unbound
	 * (test_token.c checks that this refusal names that very group).
	 */
	if (!strcmp(value, "kmipcrypt-enrolling"))
		return cfg_error(o->where, k->name, "'%s' is reserved: enroll marks the keys of "
				 "enrolls that have not finished with it", value);
	return set_string(g, k, value, o);
}

/*
 * A duration in whole seconds within [min_s, max_s]; "unlimited" gives
 * DURATION_INFINITY in *ms for the caller to accept or refuse.
 */
static int parse_seconds(const char *value, const char *key, const struct origin *o,
			 unsigned min_s, unsigned max_s, uint64_t *ms)
{
	int r;

	r = parse_duration_ms(value, ms);
	if (r < 0) {
		r = cfg_error(o->where, key,
			      "'%.*s' is not a duration (e.g. 30, 30s, 5m, 1h, 1d)",
			      SHOW, value);
		goto out;
	}
	if (*ms == DURATION_INFINITY || *ms == 0)
		goto out;
	if (*ms % 1000) {
		r = cfg_error(o->where, key, "'%.*s' is not a whole number of seconds",
			      SHOW, value);
		goto out;
	}
	if (*ms / 1000 < min_s || *ms / 1000 > max_s) {
		r = cfg_error(o->where, key, "'%.*s' is not between %us and %us",
			      SHOW, value, min_s, max_s);
		goto out;
	}
out:
	return r;
}

/*
 * How old a key may get before it is due for rotation (config.h
 * rotate_after_s).  "unlimited" is the same as no rotate_after: never due.
 * 0 is refused: "rotate at once" and "never" are both readings of it.
 */
static int set_rotate_after(struct config_group *g, const struct group_key *k,
			    const char *value, const struct origin *o)
{
	uint64_t ms;
	int r;

	r = parse_seconds(value, k->name, o, 1, CONFIG_ROTATE_AFTER_MAX, &ms);
	if (r < 0)
		goto out;
	if (ms == 0) {
		r = cfg_error(o->where, k->name, "0 is ambiguous: give the age at which a key is "
			      "due for rotation (e.g. 90d), or leave rotate_after out for no "
			      "rotation policy");
		goto out;
	}
	g->rotate_after_s = ms == DURATION_INFINITY ? 0 : (unsigned)(ms / 1000);
out:
	return r;
}

#define F(field) offsetof(struct config_group, field)
static const struct group_key group_keys[] = {
	{ "servers",		set_servers,		0,		TRANSPORT_SET_SERVERS },
	{ "ca",			set_path,		F(ca),		TRANSPORT_SET_CA },
	{ "cert",		set_path,		F(cert),	TRANSPORT_SET_CERT },
	{ "key",		set_path,		F(key),		TRANSPORT_SET_KEY },
	{ "key_password",	set_key_password,	0,		TRANSPORT_SET_KEY_PASSWORD },
	{ "key_password_file",	set_key_password_file,	F(key_password_file),
								TRANSPORT_SET_KEY_PASSWORD },
	{ "timeout_ms",		set_timeout_ms,		0,		-1 },
	{ "kmip_version",	set_kmip_version,	0,		-1 },
	{ "tls_min_version",	set_tls_min_version,	0,		TRANSPORT_SET_TLS_MIN_VERSION },
	{ "cipher_suites",	set_string,		F(cipher_suites), TRANSPORT_SET_CIPHER_SUITES },
	{ "pin_sha256",		set_pin_sha256,		0,		-1 },
	{ "object_group",	set_object_group,	F(object_group), -1 },
	{ "rotate_after",	set_rotate_after,	0,		-1 },
};
#undef F

/* ---- daemon keys --------------------------------------------------- */

struct daemon_key {
	const char *name;
	int (*set)(struct config_daemon *d, const struct daemon_key *k,
		   const char *value, const struct origin *o);
};

static int set_poll_interval(struct config_daemon *d, const struct daemon_key *k,
			     const char *value, const struct origin *o)
{
	uint64_t ms;
	int r;

	r = parse_seconds(value, k->name, o, 1, 86400, &ms);
	if (r < 0)
		goto out;
	if (ms == 0 || ms == DURATION_INFINITY) {
		r = cfg_error(o->where, k->name,
			      "'%.*s': the daemon must poll, every 1s to 1d",
			      SHOW, value);
		goto out;
	}
	d->poll_interval_s = (unsigned)(ms / 1000);
out:
	return r;
}

static int set_offline_grace(struct config_daemon *d, const struct daemon_key *k,
			     const char *value, const struct origin *o)
{
	uint64_t ms;
	int r;

	r = parse_seconds(value, k->name, o, 1, 365 * 86400, &ms);
	if (r < 0)
		goto out;
	/*
	 * 0 stands for "unlimited" in struct config_daemon, but an operator
	 * writing 0 may well mean "lock at once": refuse to guess, since one
	 * reading fails open and the other closed.
	 */
	if (ms == 0) {
		r = cfg_error(o->where, k->name,
			      "0 is ambiguous: write 'unlimited' to never lock "
			      "when the servers are unreachable, or a duration "
			      "of at least 1s");
		goto out;
	}
	d->offline_grace_s = ms == DURATION_INFINITY ? 0 : (unsigned)(ms / 1000);
out:
	return r;
}

/* suspend | close | none (shared by [daemon] and [volume NAME]). */
static int parse_action(const char *value, const char *key, const struct origin *o,
			enum daemon_action *a)
{
	if (!strcmp(value, "suspend"))
		*a = DAEMON_ACTION_SUSPEND;
	else if (!strcmp(value, "close"))
		*a = DAEMON_ACTION_CLOSE;
	else if (!strcmp(value, "none"))
		*a = DAEMON_ACTION_NONE;
	else if (!strcmp(value, "exec"))
		return cfg_error(o->where, key, "'exec' is no action: the command is its own "
				 "key, run after the action (write 'action = none' and 'exec = "
				 "COMMAND' for a command alone)");
	else
		return cfg_error(o->where, key, "'%.*s' is not suspend, close or none", SHOW, value);
	return 0;
}

/* An absolute program path and its arguments (shared by [daemon] and [volume NAME]). */
static int parse_exec(const char *value, const char *key, const struct origin *o, char **out)
{
	/* Run as root from a daemon: no $PATH lookup, no surprise binary. */
	if (value[0] != '/')
		return cfg_error(o->where, key,
				 "must start with the absolute path of the program");
	if (strlen(value) >= CONFIG_LINE_MAX)
		return cfg_error(o->where, key, "longer than %d bytes",
				 CONFIG_LINE_MAX - 1);
	return dup_string(out, value);
}

static int set_action(struct config_daemon *d, const struct daemon_key *k,
		      const char *value, const struct origin *o)
{
	return parse_action(value, k->name, o, &d->action);
}

static int set_exec(struct config_daemon *d, const struct daemon_key *k,
		    const char *value, const struct origin *o)
{
	return parse_exec(value, k->name, o, &d->exec);
}

static int parse_policy(const char *value, const char *key, const struct origin *o,
			enum daemon_policy *p)
{
	if (!strcmp(value, "revoked"))
		*p = DAEMON_POLICY_REVOKED;
	else if (!strcmp(value, "ignore"))
		*p = DAEMON_POLICY_IGNORE;
	else
		return cfg_error(o->where, key, "'%.*s' is not revoked or ignore", SHOW, value);
	return 0;
}

static int set_pre_active(struct config_daemon *d, const struct daemon_key *k,
			  const char *value, const struct origin *o)
{
	return parse_policy(value, k->name, o, &d->pre_active);
}

static int set_permission_denied(struct config_daemon *d, const struct daemon_key *k,
				 const char *value, const struct origin *o)
{
	return parse_policy(value, k->name, o, &d->permission_denied);
}

static int set_user(struct config_daemon *d, const struct daemon_key *k,
		    const char *value, const struct origin *o)
{
	size_t i;

	/* The characters useradd accepts in a name; no digit-only name (it reads as a uid). */
	for (i = 0; value[i]; i++)
		if (!((value[i] >= 'a' && value[i] <= 'z') || (value[i] >= 'A' && value[i] <= 'Z') ||
		      (value[i] >= '0' && value[i] <= '9') || value[i] == '_' || value[i] == '-' ||
		      value[i] == '.') || i >= sizeof(d->user) - 1)
			return cfg_error(o->where, k->name, "'%.*s' is not a user name (1 to %zu "
					 "of A-Z a-z 0-9 _ - .)", SHOW, value, sizeof(d->user) - 1);
	if (strspn(value, "0123456789") == i)
		return cfg_error(o->where, k->name, "'%.*s': a user name, not a number", SHOW,
				 value);
	if (!strcmp(value, "root"))
		return cfg_error(o->where, k->name, "the poller must not run as root");
	snprintf(d->user, sizeof(d->user), "%s", value);
	return 0;
}

static int set_state_file(struct config_daemon *d, const struct daemon_key *k,
			  const char *value, const struct origin *o)
{
	if (value[0] != '/' || strlen(value) >= sizeof(d->state_file) ||
	    value[strlen(value) - 1] == '/')
		return cfg_error(o->where, k->name, "must be an absolute file path of at most %zu "
				 "bytes", sizeof(d->state_file) - 1);
	snprintf(d->state_file, sizeof(d->state_file), "%s", value);
	return 0;
}

static const struct daemon_key daemon_keys[] = {
	{ "poll_interval",	set_poll_interval },
	{ "offline_grace",	set_offline_grace },
	{ "action",		set_action },
	{ "exec",		set_exec },
	{ "pre_active",		set_pre_active },
	{ "permission_denied",	set_permission_denied },
	{ "user",		set_user },
	{ "state_file",		set_state_file },
};

/* ---- [volume NAME] keys -------------------------------------------- */

static const char *const volume_keys[] = { "action", "exec" };

static int volume_key_index(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(volume_keys); i++)
		if (!strcmp(key, volume_keys[i]))
			return (int)i;
	return -1;
}

static int volume_set(struct config_volume *v, const char *key, const char *value,
		      const struct origin *o)
{
	int r;

	if (!strcmp(key, "action")) {
		r = parse_action(value, key, o, &v->action);
		v->action_set = r == 0;
		return r;
	}
	/* "exec =" with no value: no command for this volume, whatever [daemon] says. */
	v->exec_set = true;
	return *value ? parse_exec(value, key, o, &v->exec) : 0;
}

/* ---- key lookup and hints ------------------------------------------ */

static int group_key_index(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(group_keys); i++)
		if (!strcmp(key, group_keys[i].name))
			return (int)i;
	return -1;
}

static int daemon_key_index(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(daemon_keys); i++)
		if (!strcmp(key, daemon_keys[i].name))
			return (int)i;
	return -1;
}

#define HINT_LEN_MAX 32

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-blind edit distance, for "did you mean"; large for long strings. */
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned row[HINT_LEN_MAX + 1], diag, up, i, j;
	size_t la = strlen(a), lb = strlen(b);

	if (la > HINT_LEN_MAX || lb > HINT_LEN_MAX)
		return UINT_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (lower(a[i - 1]) != lower(b[j - 1]));
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb];
}

/* Where a key was found: the section kinds of the file. */
enum place { PLACE_GROUP, PLACE_DAEMON, PLACE_VOLUME };

static const char *key_name(enum place p, size_t i)
{
	return p == PLACE_GROUP ? group_keys[i].name : p == PLACE_DAEMON ? daemon_keys[i].name :
	       volume_keys[i];
}

/* A server group named like "[deamon]": a misspelt [daemon] if a daemon key or nothing is in it. */
static bool daemon_typo(const char *group)
{
	return group && edit_distance(group, "daemon") <= 2;
}

/*
 * key is not one of place p's.  group: the server group's name with
 * PLACE_GROUP ("[deamon]" is a server group to the parser: say so).
 */
static int unknown_key(const char *where, const char *key, enum place p, const char *group)
{
	static const char *const place_names[] = { " in a server group", " in [daemon]",
						   " in a [volume NAME] section" };
	const char *best = NULL, *name;
	unsigned d, best_d = 3;	/* suggest within two edits */
	char list[256] = "";
	size_t i, n, len = 0;

	if (p != PLACE_GROUP && group_key_index(key) >= 0)
		return cfg_error(where, key, "belongs in a server group, not%s", place_names[p]);
	if (p == PLACE_GROUP && daemon_key_index(key) >= 0 && daemon_typo(group))
		return cfg_error(where, key, "belongs in [daemon], not in server group [%s]: did "
				 "you mean [daemon]?", group);
	if (p != PLACE_DAEMON && daemon_key_index(key) >= 0)
		return cfg_error(where, key, "belongs in [daemon], not%s%s", place_names[p],
				 p == PLACE_VOLUME ? " (only action and exec are per volume)" : "");
	n = p == PLACE_GROUP ? ARRAY_SIZE(group_keys) : p == PLACE_DAEMON ? ARRAY_SIZE(daemon_keys) :
	    ARRAY_SIZE(volume_keys);
	for (i = 0; i < n; i++) {
		name = key_name(p, i);
		d = edit_distance(key, name);
		/* "timeout" for "timeout_ms": a prefix is as good as one typo. */
		if (strlen(key) >= 4 && !strncasecmp(key, name, strlen(key)))
			d = 1;
		if (d < best_d) {
			best_d = d;
			best = name;
		}
		/* Bounded: the key names above fit comfortably in list. */
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					i ? ", " : "", name);
		if (len >= sizeof(list))
			len = sizeof(list) - 1;
	}
	if (best)
		return cfg_error(where, key, "unknown key; did you mean '%s'?", best);
	return cfg_error(where, key, "unknown key; known keys%s: %s", place_names[p], list);
}

/* Shared checks of every value, wherever it comes from. */
static int value_ok(const char *where, const char *key, const char *value)
{
	const char *p;

	if (!value || !*value)
		return cfg_error(where, key, "no value");
	for (p = value; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return cfg_error(where, key, "contains a control character");
	return 0;
}

static int group_set(struct config_group *g, const char *key, const char *value,
		     const struct origin *o)
{
	int idx, r;

	idx = group_key_index(key);
	if (idx < 0) {
		r = unknown_key(o->where, key, PLACE_GROUP, g->name);
		goto out;
	}
	r = value_ok(o->where, key, value);
	if (r < 0)
		goto out;
	r = group_keys[idx].set(g, &group_keys[idx], value, o);
	if (r == 0 && group_keys[idx].setting >= 0)
		r = group_set_where(g, group_keys[idx].setting, o->where, key);
	group_sync_tls(g);
out:
	return r;
}

static int daemon_set(struct config_daemon *d, const char *key, const char *value,
		      const struct origin *o)
{
	int idx, r;

	idx = daemon_key_index(key);
	if (idx < 0) {
		r = unknown_key(o->where, key, PLACE_DAEMON, NULL);
		goto out;
	}
	r = value_ok(o->where, key, value);
	if (r < 0)
		goto out;
	r = daemon_keys[idx].set(d, &daemon_keys[idx], value, o);
out:
	return r;
}

/* value_ok(), but "exec =" may be empty in a [volume NAME] section. */
static int volume_value_ok(const char *where, const char *key, const char *value)
{
	if (!strcmp(key, "exec") && !*value)
		return 0;
	return value_ok(where, key, value);
}

int config_group_set(struct config_group *g, const char *key, const char *value,
		     const char *origin)
{
	struct origin o = { .where = origin ? origin : "command line" };

	if (!g || !key)
		return -EINVAL;
	return group_set(g, key, value, &o);
}

int config_daemon_set(struct config_daemon *d, const char *key, const char *value,
		      const char *origin)
{
	struct origin o = { .where = origin ? origin : "command line" };

	if (!d || !key)
		return -EINVAL;
	return daemon_set(d, key, value, &o);
}

const char *config_duration_text(unsigned s, char *buf, size_t len)
{
	if (s && s % 86400 == 0)
		snprintf(buf, len, "%ud", s / 86400);
	else if (s && s % 3600 == 0)
		snprintf(buf, len, "%uh", s / 3600);
	else if (s && s % 60 == 0)
		snprintf(buf, len, "%um", s / 60);
	else
		snprintf(buf, len, "%us", s);
	return buf;
}

/* ---- whole-config checks ------------------------------------------- */

int config_group_validate(const struct config_group *g, const char *origin)
{
	const char *where = origin ? origin : "configuration";
	int r = 0;

	/* A misspelt [daemon] with nothing in it: the one fix to say. */
	if (!g->tls.n_servers && !g->cert && !g->key && daemon_typo(g->name))
		return cfg_error(where, NULL, "section [%s] is a server group without servers: did "
				 "you mean [daemon]?", g->name);
	/* Report every gap at once: each is a separate fix for the operator. */
	if (g->tls.n_servers == 0)
		r = cfg_error(where, "servers", "missing in group [%s]", g->name);
	if (!g->cert)
		r = cfg_error(where, "cert", "missing in group [%s]: KMIP servers "
			      "authenticate clients by certificate", g->name);
	if (!g->key)
		r = cfg_error(where, "key", "missing in group [%s]: the private "
			      "key of 'cert'", g->name);
	if (!g->key && (g->key_password_file || g->key_password))
		r = cfg_error(where, g->key_password_file ? "key_password_file" :
			      "key_password", "set in group [%s] without 'key'", g->name);
	return r;
}

int config_daemon_validate(const struct config_daemon *d, const char *origin)
{
	const char *where = origin ? origin : "configuration";
	int r = 0;

	if (!d->user[0])
		r = cfg_error(where, "user", "empty: the poller needs a user of its own");
	if (d->state_file[0] != '/')
		r = cfg_error(where, "state_file", "not an absolute path");
	return r;
}

const struct config_volume *config_volume(const struct config *c, const char *name)
{
	unsigned i;

	if (!c || !name)
		return NULL;
	for (i = 0; i < c->n_volumes; i++)
		if (!strcmp(c->volumes[i].name, name))
			return &c->volumes[i];
	return NULL;
}

/* ---- allocation ---------------------------------------------------- */

static void group_init(struct config_group *g, const char *name)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->tls.timeout_ms = CONFIG_TIMEOUT_MS_DEFAULT;
	g->tls.tls_min_version = TLS1_2_VERSION;
	g->kmip_version = 0;
}

static void group_release(struct config_group *g)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(g->where); i++)
		free(g->where[i]);
	free(g->ca);
	free(g->cert);
	free(g->key);
	free(g->key_password_file);
	free(g->cipher_suites);
	free(g->object_group);
	secmem_free(g->key_password);
	memset(g, 0, sizeof(*g));
}

/* Index of a new group; -ENOMEM, or -ENOSPC past CONFIG_GROUPS_MAX. */
static int config_add_group(struct config *c, const char *name)
{
	struct config_group *n;
	int r;

	if (c->n_groups >= CONFIG_GROUPS_MAX) {
		r = -ENOSPC;
		goto out;
	}
	n = reallocarray(c->groups, c->n_groups + 1, sizeof(*n));
	if (!n) {
		r = -ENOMEM;
		goto out;
	}
	c->groups = n;
	group_init(&c->groups[c->n_groups], name);
	r = (int)c->n_groups++;
out:
	return r;
}

static int config_alloc(const char *path, struct config **out)
{
	struct config *c;
	int r = -ENOMEM;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	if (path) {
		c->path = strdup(path);
		if (!c->path)
			goto out;
	}
	c->daemon.poll_interval_s = CONFIG_POLL_INTERVAL_DEFAULT;
	c->daemon.offline_grace_s = 0;
	c->daemon.action = DAEMON_ACTION_SUSPEND;
	c->daemon.pre_active = DAEMON_POLICY_IGNORE;
	c->daemon.permission_denied = DAEMON_POLICY_REVOKED;
	snprintf(c->daemon.user, sizeof(c->daemon.user), "%s", CONFIG_DAEMON_USER_DEFAULT);
	snprintf(c->daemon.state_file, sizeof(c->daemon.state_file), "%s",
		 CONFIG_STATE_FILE_DEFAULT);
	*out = c;
	c = NULL;
	r = 0;
out:
	config_free(c);
	return r;
}

int config_new_empty(struct config **out)
{
	struct config *c = NULL;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	r = config_alloc(NULL, &c);
	if (r < 0)
		goto out;
	r = config_add_group(c, "default");
	if (r < 0)
		goto out;
	*out = c;
	c = NULL;
	r = 0;
out:
	config_free(c);
	return r;
}

struct config_group *config_group(struct config *c, const char *name)
{
	unsigned i;

	if (!c)
		return NULL;
	if (!name)
		name = "default";
	for (i = 0; i < c->n_groups; i++)
		if (!strcmp(c->groups[i].name, name))
			return &c->groups[i];
	return NULL;
}

void config_free(struct config *c)
{
	unsigned i;

	if (!c)
		return;
	for (i = 0; i < c->n_groups; i++)
		group_release(&c->groups[i]);
	free(c->groups);
	for (i = 0; i < c->n_volumes; i++)
		free(c->volumes[i].exec);
	free(c->volumes);
	free(c->daemon.exec);
	free(c->path);
	free(c);
}

void config_forget_secrets(struct config *c)
{
	unsigned i;

	for (i = 0; c && i < c->n_groups; i++) {
		secmem_free(c->groups[i].key_password);
		c->groups[i].key_password = NULL;
		group_sync_tls(&c->groups[i]);
	}
}

/* ---- reading files ------------------------------------------------- */

int config_group_load_password(struct config_group *g)
{
	const char *where;
	char *buf = NULL;
	size_t len = 0;
	int r = 0;

	if (!g)
		return -EINVAL;
	if (g->key_password || !g->key_password_file)
		goto out;
	where = g->where[TRANSPORT_SET_KEY_PASSWORD] ? g->where[TRANSPORT_SET_KEY_PASSWORD] :
		"key_password_file";
	/* As ssh does for private keys: a secret others can read is a leak. */
	r = read_file_locked_opts(g->key_password_file, CONFIG_PASSWORD_MAX + 2,
				  &(struct read_file_opts){ .secret = true, .where = where },
				  &buf, &len);
	if (r == -EFBIG)
		r = log_error_errno(-EINVAL, "%s: %s: a key password is at most %d bytes",
				    where, g->key_password_file, CONFIG_PASSWORD_MAX);
	if (r < 0)
		goto out;
	/* One trailing newline, as "echo pw > file" writes it. */
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	/* OpenSSL takes a C string: a NUL would silently cut the password. */
	if (memchr(buf, '\0', len)) {
		r = log_error_errno(-EINVAL, "%s: %s: contains a NUL byte",
				    where, g->key_password_file);
		goto out;
	}
	if (len == 0) {
		r = log_error_errno(-EINVAL, "%s: %s: empty key password",
				    where, g->key_password_file);
		goto out;
	}
	if (len > CONFIG_PASSWORD_MAX) {
		r = log_error_errno(-EINVAL, "%s: %s: a key password is at most %d bytes",
				    where, g->key_password_file, CONFIG_PASSWORD_MAX);
		goto out;
	}
	g->key_password = buf;
	buf = NULL;
	group_sync_tls(g);
out:
	secmem_free(buf);
	return r;
}

/* ---- the parser ---------------------------------------------------- */

enum section { SEC_NONE, SEC_GROUP, SEC_DAEMON, SEC_VOLUME, SEC_SKIP };

struct parser {
	struct config *c;
	const char *path;
	char *base_dir;			/* absolute directory of the file */
	struct stat st;
	unsigned lineno;
	enum section sec;
	int gi;				/* current group, with SEC_GROUP */
	unsigned vi;			/* current volume, with SEC_VOLUME */
	unsigned volume_line[CONFIG_VOLUMES_MAX];
	/* Line where each key of the current section was set, 0: not yet. */
	unsigned seen[ARRAY_SIZE(group_keys)];
	unsigned group_line[CONFIG_GROUPS_MAX];
	unsigned daemon_line;
	char where[PATH_MAX + 32];
};

_Static_assert(ARRAY_SIZE(group_keys) >= ARRAY_SIZE(daemon_keys) &&
	       ARRAY_SIZE(group_keys) >= ARRAY_SIZE(volume_keys),
	       "parser.seen must hold every key of any section");

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static char *trim(char *s)
{
	size_t len;

	while (is_blank(*s))
		s++;
	len = strlen(s);
	while (len > 0 && is_blank(s[len - 1]))
		s[--len] = '\0';
	return s;
}

static bool section_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		if (i >= CONFIG_NAME_MAX - 1)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' ||
		      s[i] == '-'))
			return false;
	}
	return i > 0;
}

/* A mapping name: printable ASCII without blanks or '/', as device-mapper takes it. */
static bool mapping_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= CONFIG_VOLUME_NAME_MAX - 1 || s[i] <= ' ' || s[i] > '~' || s[i] == '/')
			return false;
	return i > 0 && strcmp(s, ".") && strcmp(s, "..");
}

/*
 * A header that was meant as [volume NAME]: a first word near "volume"
 * ("[volumes db]", "[Volume db]", "[volme db]"), or "volume(s)" in another
 * case without a name.  Without a blank only those exact words: a server
 * group may well be called "volume2".
 */
static bool volume_typo(const char *name)
{
	char word[HINT_LEN_MAX + 1];
	size_t n = strcspn(name, " \t");

	if (!name[n])
		return !strcasecmp(name, "volume") || !strcasecmp(name, "volumes");
	if (n == 0 || n >= sizeof(word))
		return false;
	memcpy(word, name, n);
	word[n] = '\0';
	return edit_distance(word, "volume") <= 2;
}

/* "[volume NAME]": name is what follows "volume" and its blanks. */
static int parse_volume_section(struct parser *ps, const char *name)
{
	struct config_volume *n;
	unsigned i;

	if (!*name)
		return cfg_error(ps->where, NULL, "section [volume]: name the mapping, as in "
				 "[volume NAME] (/dev/mapper/NAME)");
	if (!mapping_name_ok(name))
		return cfg_error(ps->where, NULL, "section [volume %.*s]: not a mapping name (1 to "
				 "%d printable characters, no blank, no '/')", SHOW, name,
				 CONFIG_VOLUME_NAME_MAX - 1);
	for (i = 0; i < ps->c->n_volumes; i++)
		if (!strcmp(ps->c->volumes[i].name, name))
			return cfg_error(ps->where, NULL, "section [volume %s] already started at "
					 "line %u", name, ps->volume_line[i]);
	if (ps->c->n_volumes >= CONFIG_VOLUMES_MAX)
		return cfg_error(ps->where, NULL, "more than %d [volume] sections",
				 CONFIG_VOLUMES_MAX);
	n = reallocarray(ps->c->volumes, ps->c->n_volumes + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	ps->c->volumes = n;
	memset(&n[ps->c->n_volumes], 0, sizeof(*n));
	snprintf(n[ps->c->n_volumes].name, sizeof(n->name), "%s", name);
	ps->vi = ps->c->n_volumes;
	ps->volume_line[ps->vi] = ps->lineno;
	ps->c->n_volumes++;
	ps->sec = SEC_VOLUME;
	return 0;
}

static int parse_section(struct parser *ps, char *line)
{
	char *end, *name;
	unsigned i;
	int r;

	/* Until the header proves good, its keys are skipped, not misfiled. */
	ps->sec = SEC_SKIP;
	memset(ps->seen, 0, sizeof(ps->seen));
	end = strchr(line, ']');
	if (!end) {
		r = cfg_error(ps->where, NULL, "section header without ']'");
		goto out;
	}
	if (end[1] != '\0') {
		r = cfg_error(ps->where, NULL, "text after ']' (comments go on "
			      "their own line)");
		goto out;
	}
	*end = '\0';
	name = trim(line + 1);
	/* [volume NAME]: the one section header with a blank in it. */
	if (!strncmp(name, "volume", 6) && (!name[6] || is_blank(name[6]))) {
		r = parse_volume_section(ps, trim(name + 6));
		goto out;
	}
	if (volume_typo(name)) {
		r = cfg_error(ps->where, NULL, "section [%.*s]: did you mean [volume NAME]?", SHOW,
			      name);
		goto out;
	}
	if (!section_name_ok(name)) {
		r = cfg_error(ps->where, NULL, "section name '%.*s' is not 1 to %d "
			      "of A-Z a-z 0-9 _ . -", SHOW, name, CONFIG_NAME_MAX - 1);
		goto out;
	}
	if (strcmp(name, "daemon") && !strcasecmp(name, "daemon")) {
		r = cfg_error(ps->where, NULL, "section [%s]: did you mean [daemon]?",
			      name);
		goto out;
	}
	if (!strcmp(name, "daemon")) {
		if (ps->daemon_line) {
			r = cfg_error(ps->where, NULL, "section [daemon] already "
				      "started at line %u", ps->daemon_line);
			goto out;
		}
		ps->daemon_line = ps->lineno;
		ps->sec = SEC_DAEMON;
		r = 0;
		goto out;
	}
	for (i = 0; i < ps->c->n_groups; i++) {
		if (!strcmp(ps->c->groups[i].name, name)) {
			r = cfg_error(ps->where, NULL, "section [%s] already started "
				      "at line %u", name, ps->group_line[i]);
			goto out;
		}
	}
	r = config_add_group(ps->c, name);
	if (r == -ENOSPC) {
		r = cfg_error(ps->where, NULL, "more than %d server groups",
			      CONFIG_GROUPS_MAX);
		goto out;
	}
	if (r < 0)
		goto out;
	ps->gi = r;
	ps->group_line[r] = ps->lineno;
	ps->sec = SEC_GROUP;
	/* A key left to its default is the group's: errors about it name the header's line. */
	for (i = 0; i < TRANSPORT_SET_MAX; i++) {
		r = group_set_where(&ps->c->groups[ps->gi], (int)i, ps->where,
				    transport_setting_name((enum transport_setting)i));
		if (r < 0)
			goto out;
	}
	group_sync_tls(&ps->c->groups[ps->gi]);
	r = 0;
out:
	return r;
}

static int parse_assignment(struct parser *ps, char *line)
{
	struct origin o = {
		.where = ps->where,
		.base_dir = ps->base_dir,
		.file = ps->path,
		.file_st = &ps->st,
	};
	char *eq, *key, *value;
	int idx, other, r;

	eq = strchr(line, '=');
	if (!eq) {
		r = cfg_error(ps->where, NULL, "expected 'key = value', "
			      "'[section]' or a comment");
		goto out;
	}
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (!*key) {
		r = cfg_error(ps->where, NULL, "no key before '='");
		goto out;
	}
	switch (ps->sec) {
	case SEC_NONE:
		/* Said once: the keys after it are skipped until a section starts. */
		ps->sec = SEC_SKIP;
		r = cfg_error(ps->where, key, "outside of any section: put it (and the "
			      "keys after it) under a server group such as [default], "
			      "or [daemon]");
		goto out;
	case SEC_SKIP:
		/* The bad section header was reported; one message is enough. */
		r = 0;
		goto out;
	case SEC_GROUP:
		idx = group_key_index(key);
		break;
	case SEC_DAEMON:
		idx = daemon_key_index(key);
		break;
	case SEC_VOLUME:
		idx = volume_key_index(key);
		if (idx < 0) {
			r = unknown_key(ps->where, key, PLACE_VOLUME, NULL);
			goto out;
		}
		break;
	default:
		r = -EINVAL;
		goto out;
	}
	if (idx >= 0 && ps->seen[idx]) {
		r = cfg_error(ps->where, key, "set twice in this section, first "
			      "at line %u", ps->seen[idx]);
		goto out;
	}
	if (ps->sec == SEC_GROUP && idx >= 0 &&
	    (!strcmp(key, "key_password") || !strcmp(key, "key_password_file"))) {
		other = group_key_index(strcmp(key, "key_password") ?
					"key_password" : "key_password_file");
		if (ps->seen[other]) {
			r = cfg_error(ps->where, key, "conflicts with '%s' at line "
				      "%u: set only one", group_keys[other].name,
				      ps->seen[other]);
			goto out;
		}
	}
	if (idx >= 0)
		ps->seen[idx] = ps->lineno;
	if (ps->sec == SEC_GROUP)
		r = group_set(&ps->c->groups[ps->gi], key, value, &o);
	else if (ps->sec == SEC_VOLUME)
		r = volume_value_ok(ps->where, key, value) < 0 ? -EINVAL :
		    volume_set(&ps->c->volumes[ps->vi], key, value, &o);
	else
		r = daemon_set(&ps->c->daemon, key, value, &o);
out:
	return r;
}

/* One line, NUL-terminated in place, of len bytes (newline excluded). */
static int parse_line(struct parser *ps, char *raw, size_t len)
{
	unsigned char ch;
	char *line;
	size_t i;
	int r = 0;

	if (len > CONFIG_LINE_MAX) {
		r = cfg_error(ps->where, NULL, "line longer than %d bytes",
			      CONFIG_LINE_MAX);
		goto out;
	}
	for (i = 0; i < len; i++) {
		ch = (unsigned char)raw[i];
		if (ch == '\0') {
			r = cfg_error(ps->where, NULL, "contains a NUL byte");
			goto out;
		}
		/* A CR before the newline is tolerated: files edited on Windows. */
		if ((ch < 0x20 && ch != '\t' && !(ch == '\r' && i + 1 == len)) ||
		    ch == 0x7f) {
			r = cfg_error(ps->where, NULL, "contains control character "
				      "0x%02x", ch);
			goto out;
		}
	}
	raw[len] = '\0';
	line = trim(raw);
	/* Comments only on their own line: '#' may occur in values. */
	if (!*line || *line == '#' || *line == ';')
		goto out;
	if (*line == '[')
		r = parse_section(ps, line);
	else
		r = parse_assignment(ps, line);
out:
	return r;
}

/* "\xEF\xBB\xBF": a UTF-8 byte-order mark; "\xFF\xFE", "\xFE\xFF": UTF-16. */
static int skip_bom(const struct parser *ps, char **p, size_t *len)
{
	const unsigned char *u = (const unsigned char *)*p;

	if (*len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
		log_debug("%s: skipping the UTF-8 byte-order mark", ps->path);
		*p += 3;
		*len -= 3;
		return 0;
	}
	if (*len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
		return cfg_error(ps->path, NULL, "the file is UTF-16 (byte-order mark %02X %02X): "
				 "save it as UTF-8 or ASCII", u[0], u[1]);
	return 0;
}

static int parse_buffer(struct parser *ps, char *buf, size_t len)
{
	char *p = buf, *end, *nl;
	unsigned errors = 0;
	size_t llen;
	int r;

	r = skip_bom(ps, &p, &len);
	if (r < 0)
		goto out;
	end = p + len;
	while (p < end) {
		ps->lineno++;
		snprintf(ps->where, sizeof(ps->where), "%s:%u", ps->path, ps->lineno);
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = (size_t)((nl ? nl : end) - p);
		/* The line ends at the newline, or at the NUL the reader put after the file. */
		r = parse_line(ps, p, llen);
		if (r < 0 && r != -EINVAL)
			goto out;
		if (r < 0 && ++errors >= CONFIG_ERRORS_MAX) {
			log_error("%s: too many errors, giving up", ps->path);
			break;
		}
		p += llen + 1;
	}
	r = errors ? -EINVAL : 0;
out:
	return r;
}

static int validate_all(struct parser *ps)
{
	char where[PATH_MAX + 32];
	unsigned i;
	int r = 0;

	for (i = 0; i < ps->c->n_groups; i++) {
		snprintf(where, sizeof(where), "%s:%u", ps->path, ps->group_line[i]);
		if (config_group_validate(&ps->c->groups[i], where) < 0)
			r = -EINVAL;
	}
	if (ps->daemon_line)
		snprintf(where, sizeof(where), "%s:%u", ps->path, ps->daemon_line);
	else
		snprintf(where, sizeof(where), "%s", ps->path);
	if (config_daemon_validate(&ps->c->daemon, where) < 0)
		r = -EINVAL;
	return r;
}

/* Relative paths in the file are relative to its directory, made absolute. */
static int dir_of(const char *path, char **out)
{
	char *copy, *dir;
	int r;

	copy = strdup(path);
	if (!copy) {
		r = -ENOMEM;
		goto out;
	}
	dir = dirname(copy);
	*out = realpath(dir, NULL);
	if (!*out) {
		r = log_error_errno(-errno, "%s: %s", dir, strerror(errno));
		goto out;
	}
	r = 0;
out:
	free(copy);
	return r;
}

int config_load(const char *path, struct config **out)
{
	struct parser ps;
	struct config *c = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r;

	memset(&ps, 0, sizeof(ps));
	if (!path || !out) {
		r = -EINVAL;
		goto out;
	}
	*out = NULL;
	/* A missing file is for the caller to report (or not). */
	r = read_file_locked_opts(path, CONFIG_FILE_MAX,
				  &(struct read_file_opts){ .quiet_enoent = true, .st = &ps.st },
				  &buf, &len);
	if (r < 0)
		goto out;
	/*
	 * The file decides which servers are trusted and what the daemon
	 * runs as root (exec): whoever can write it owns the host.
	 */
	if ((ps.st.st_mode & S_IWOTH) ||
	    (ps.st.st_uid != 0 && ps.st.st_uid != geteuid())) {
		r = log_error_errno(-EPERM, "%s: writable by other users or not "
				    "owned by root: refused", path);
		goto out;
	}
	r = config_alloc(path, &c);
	if (r < 0)
		goto out;
	r = dir_of(path, &ps.base_dir);
	if (r < 0)
		goto out;
	ps.c = c;
	ps.path = path;
	r = parse_buffer(&ps, buf, len);
	if (r < 0)
		goto out;
	r = validate_all(&ps);
	if (r < 0)
		goto out;
	*out = c;
	c = NULL;
out:
	secmem_free(buf);
	free(ps.base_dir);
	config_free(c);
	return r;
}
