/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The error taxonomy (errclass.h): one switch from errno to class, one
 * table from class to exit status, retry, answer and words.  A switch so
 * that an errno listed twice does not compile.
 */
#include "util/errclass.h"

struct class_info {
	const char *name;
	int exit_code;
	bool retry;
	bool no_answer;
	const char *words;
};

static const struct class_info classes[ERRCLASS_COUNT] = {
	[ERRCLASS_OK] = { "ok", EXIT_OK, false, false, NULL },
	[ERRCLASS_USAGE] = { "usage", EXIT_USAGE, false, false,
		"a usage or configuration error: correct the command line or the "
		"configuration (kmipcrypt.conf(5)) as said above" },
	[ERRCLASS_UNREACHABLE] = { "unreachable", EXIT_UNREACHABLE, true, true,
		"no KMIP server answered: check that the servers are up and reachable from "
		"this host (servers, timeout_ms in the configuration; network, firewall); "
		"trying again later may help" },
	[ERRCLASS_BAD_ANSWER] = { "bad-answer", EXIT_UNREACHABLE, true, true,
		"the KMIP server's answer could not be used (malformed, incomplete, or the "
		"server busy or failing): trying again later may help; if it lasts, check "
		"the server and kmip_version in the configuration" },
	[ERRCLASS_UNSUPPORTED] = { "unsupported", EXIT_OTHER, false, true,
		"the KMIP server does not support what this needs: check kmip_version in "
		"the configuration, or use a server that supports it" },
	[ERRCLASS_TLS] = { "tls", EXIT_TLS, false, true,
		"TLS or authentication failure: check ca, cert and key in the configuration "
		"and the server's certificate" },
	[ERRCLASS_KEY] = { "key", EXIT_KEY, false, false,
		"the key is not usable: check the key's identifier and state ('kmipcrypt key "
		"show UID') and the client's permissions" },
	[ERRCLASS_LUKS] = { "luks", EXIT_LUKS, false, false,
		"a LUKS error: the volume, its token or keyslot, or device-mapper refused "
		"(see the message above)" },
	[ERRCLASS_INTERRUPTED] = { "interrupted", EXIT_OTHER, false, false,
		"interrupted by a termination request (SIGINT, SIGTERM or SIGHUP): what was "
		"begun was undone as the messages above say" },
	[ERRCLASS_INTERNAL] = { "internal", EXIT_OTHER, false, false,
		"an internal failure, a lack of resources or a local key that does not fit: "
		"see the messages above" },
};

/* The class of errno e (positive); false if the table does not name it. */
static bool lookup(int e, enum errclass *c)
{
	switch (e) {
	/*
	 * unreachable.  The transport's own (net/sock.c, transport.c); DNS
	 * failures are -EHOSTUNREACH or -ETIMEDOUT there.  -EADDRNOTAVAIL: no
	 * local address yet (network not up at boot).  -EAFNOSUPPORT,
	 * -ENETRESET: connect() errors sock.c passes on.  -EPIPE: the server
	 * went away while we wrote.
	 */
	case ECONNREFUSED: case ETIMEDOUT: case EHOSTUNREACH: case ENETUNREACH:
	case ENETDOWN: case EHOSTDOWN: case ECONNRESET: case ECONNABORTED:
	case EADDRNOTAVAIL: case EPIPE: case ENETRESET: case EAFNOSUPPORT:
		*c = ERRCLASS_UNREACHABLE;
		return true;
	/*
	 * bad-answer.  -EBADMSG -EPROTO -EMSGSIZE -ELOOP: a response that does
	 * not decode or breaks the protocol (or over the size or depth cap);
	 * -ENOMSG a batch item the server left unanswered; -EINPROGRESS
	 * "Operation Pending" (we never ask for asynchronous processing);
	 * -ENODATA an answer without what was asked (no State; "Key Value Not
	 * Present", "Attribute Not Found"); -ECANCELED "Operation Canceled By
	 * Requester", which we never request; -EAGAIN "Server Limit Exceeded",
	 * or the token plugin's time limit used up; -EREMOTEIO the server
	 * failing ("General Failure", "Internal Server Error": for kmip/errors.c
	 * to use, today those are -EIO).
	 */
	case EBADMSG: case EPROTO: case EMSGSIZE: case ELOOP: case ENOMSG:
	case EINPROGRESS: case ENODATA: case ECANCELED: case EAGAIN: case EREMOTEIO:
		*c = ERRCLASS_BAD_ANSWER;
		return true;
	/* unsupported: "Operation/Feature/... Not Supported", no common protocol version. */
	case EOPNOTSUPP: case EPROTONOSUPPORT:
		*c = ERRCLASS_UNSUPPORTED;
		return true;
	/* tls: the handshake, the certificates, or "Authentication Not Successful". */
	case EKEYREJECTED:
		*c = ERRCLASS_TLS;
		return true;
	/*
	 * key.  -ENOENT not found or destroyed, -EKEYREVOKED Deactivated or
	 * Compromised ("Wrong Key Lifecycle State"), -ENOKEY Pre-Active or an
	 * unknown State (and a wrapping key not found), -EPERM another
	 * client's ("Permission Denied", "Not Authorised", "Not
	 * Extractable"...), -EKEYMISMATCH the wrong object, -EKEYEXPIRED
	 * (the kernel's "key has expired", kept with its kin).
	 */
	case ENOENT: case EKEYREVOKED: case ENOKEY: case EPERM: case EKEYMISMATCH:
	case EKEYEXPIRED:
		*c = ERRCLASS_KEY;
		return true;
	/*
	 * luks.  -ELUKS every libcryptsetup failure and refused header;
	 * -ENOTBLK a listed device that is neither a block device nor a file;
	 * -ENODEV -ENXIO -EBUSY device-mapper (dm/dm.h: no such mapping, in use).
	 */
	case ELUKS: case ENOTBLK: case ENODEV: case ENXIO: case EBUSY:
		*c = ERRCLASS_LUKS;
		return true;
	/*
	 * usage.  -EINVAL and -EACCES: see errclass.h.  -E2BIG more than a
	 * command can take (Locate results: narrow the filter); -ENAMETOOLONG
	 * -ERANGE -EILSEQ a name, number or text that does not fit; -ENOTTY no
	 * terminal to ask on; -EISDIR -ENOTDIR -EFBIG a named file that is a
	 * directory, under a non-directory, too large; -ENOSPC more server groups
	 * than the configuration may hold; -EEXIST an object of the name asked
	 * for exists ("Object Already Exists", "Non Unique Name"); -ENOEXEC a
	 * configured program that cannot be run (util/spawn.h).
	 */
	case EINVAL: case EACCES: case E2BIG: case ENAMETOOLONG: case ERANGE:
	case EILSEQ: case ENOTTY: case EISDIR: case ENOTDIR: case EFBIG: case ENOSPC:
	case EEXIST: case ENOEXEC:
		*c = ERRCLASS_USAGE;
		return true;
	/* interrupted: util/interrupt.h, the command gave up and undid. */
	case EINTR:
		*c = ERRCLASS_INTERRUPTED;
		return true;
	/*
	 * internal.  -ENOMEM -ENOBUFS -EMFILE -ENFILE resources; -EIO an I/O
	 * or internal failure, a process that died, a step failed on purpose
	 * (KMIPCRYPT_FAIL_AT), and today the server's "General Failure" too
	 * (see -EREMOTEIO); -EKEKMISMATCH the wrong key-encryption key;
	 * -ENOANO never ours (the token plugin must not return it: "PIN needed").
	 */
	case ENOMEM: case ENOBUFS: case EMFILE: case ENFILE: case EIO: case EKEKMISMATCH:
	case ENOANO:
		*c = ERRCLASS_INTERNAL;
		return true;
	default:
		*c = ERRCLASS_INTERNAL;
		return false;
	}
}

enum errclass errclass_of(int r)
{
	enum errclass c = ERRCLASS_INTERNAL;

	if (r == 0)
		return ERRCLASS_OK;
	if (r > 0)
		return ERRCLASS_INTERNAL;
	lookup(-r, &c);
	return c;
}

bool errclass_known(int r)
{
	enum errclass c;

	return r == 0 || (r < 0 && lookup(-r, &c));
}

const char *errclass_name(enum errclass c)
{
	return c >= ERRCLASS_OK && c < ERRCLASS_COUNT ? classes[c].name : "?";
}

int errclass_exit(int r)
{
	return classes[errclass_of(r)].exit_code;
}

bool errclass_retry(int r)
{
	return classes[errclass_of(r)].retry;
}

bool errclass_no_answer(int r)
{
	return classes[errclass_of(r)].no_answer;
}

bool errclass_unreachable(int r)
{
	return errclass_of(r) == ERRCLASS_UNREACHABLE;
}

const char *errclass_words(int r)
{
	return classes[errclass_of(r)].words;
}

int errclass_exit_many(const int *errs, size_t n)
{
	int worst = EXIT_OK, code;
	size_t i;

	for (i = 0; i < n; i++) {
		if (errclass_retry(errs[i]))
			return errclass_exit(errs[i]);
		code = errclass_exit(errs[i]);
		if (code > worst)
			worst = code;
	}
	return worst;
}
