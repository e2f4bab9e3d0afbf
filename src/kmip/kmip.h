/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KMIP client: request building, response parsing, the operations
 * kmipcrypt needs, version negotiation and local key unwrapping.
 *
 * Three layers, each usable on its own:
 *
 *  1. Builders (kmip_build_*) write one complete request message into a
 *     ttlv_buf for a given protocol version, with no I/O, so that tests can
 *     compare them byte for byte with captures of other implementations.
 *  2. Parsers (kmip_response_parse, kmip_parse_*) validate a response and
 *     read its payloads; they never trust a length or a type from the wire.
 *  3. The client (kmip_client_*, kmip_<operation>) adds the transport, the
 *     negotiated version and error bookkeeping.
 *
 * Files, bottom up; each calls only files below it (no circle): errors.c
 * (names and errno tables), message.c (framing, response validation),
 * attrs.c (attribute encodings), build.c (kmip_build_*) and parse.c
 * (kmip_parse_*), client.c (client object, exchange, negotiation, failure
 * text), ops.c (kmip_<operation>), rekey.c (replacing a key: Re-key or
 * its Create fallback, and links, over ops.c), session.c (over
 * net/transport); wrap.c stands alone.  kmip_internal.h is shared below
 * the client, kmip_client_internal.h only by client.c and the files above
 * it.
 *
 * Versions are ints made with KMIP_VERSION(major, minor) (kmip_defs.h);
 * 1.0-1.4, 2.0 and 2.1 are supported.  1.x requests use Template-Attribute /
 * Attribute Name encodings, 2.x requests use Attributes / Attribute
 * Reference; responses are accepted in either form whatever the version.
 *
 * Errors are negative errno values.  A failure reported by the server
 * (Result Status Operation Failed) maps its Result Reason to an errno, see
 * kmip_reason_errno(); the reason and the server's message stay available
 * through kmip_last_error() until the next operation on that client.
 * Malformed responses give -EBADMSG, never a crash, and kmip_last_error()
 * says what was missing or wrong, and where.
 *
 * A client is not thread-safe: use one per thread.
 */
#ifndef KMIPCRYPT_KMIP_H
#define KMIPCRYPT_KMIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmip/kmip_defs.h"
#include "ttlv/ttlv.h"

#define KMIP_UID_MAX		255u	/* bytes of a Unique Identifier we accept */
#define KMIP_UID_SIZE		(KMIP_UID_MAX + 1)
#define KMIP_TEXT_MAX		255u	/* names, object groups, vendor text */
#define KMIP_TEXT_SIZE		(KMIP_TEXT_MAX + 1)
#define KMIP_RESULT_MESSAGE_MAX	255u	/* bytes of a Result Message kept */
#define KMIP_LOCATE_MAX		4096u	/* identifiers accepted from one Locate */
#define KMIP_BATCH_MAX		128u	/* items per request message (kmip_get_states splits) */
#define KMIP_MATERIAL_MAX	8192u	/* bytes of key material / crypto data accepted */
#define KMIP_IV_MAX		32u
#define KMIP_AE_TAG_MAX		16u	/* bytes of an Authenticated Encryption Tag (GCM) */
#define KMIP_AE_AAD_MAX		1024u	/* bytes of Additional Data we send */
#define KMIP_QUERY_MAX		128u	/* operations (object types) kept from a Query: KMIP 2.1 has 59 */
#define KMIP_ATTR_VALUES_MAX	4u	/* multi-valued attributes: values kept */

/* ------------------------------------------------------------ versions */

bool kmip_version_supported(int version);
/* "1.2", "2.0"... into buf (at least 8 bytes); returns buf. */
const char *kmip_version_str(int version, char *buf, size_t len);

/* --------------------------------------------------------- names, errno */

/* Spec name of a Result Reason, "Unknown Reason" for others. */
const char *kmip_reason_name(uint32_t reason);
/*
 * Result Reason -> negative errno (one table with the names, errors.c):
 *   Item Not Found, Object Not Found, Object Destroyed,
 *   Unknown Object Group                                  -ENOENT
 *   Permission Denied, Not Authorised, Illegal Operation,
 *   Sensitive, Not Extractable, Read Only Attribute...    -EPERM
 *   Attestation Required/Failed, Invalid Ticket,
 *   Bad Password                                          -EACCES
 *   Authentication Not Successful                         -EKEYREJECTED
 *   Wrong Key Lifecycle State                             -EKEYREVOKED
 *   Operation/Feature/Key Format/... Not Supported        -EOPNOTSUPP
 *   Unsupported Protocol Version                          -EPROTONOSUPPORT
 *   Invalid Message, Codec Error, Unknown Tag/Enumeration -EPROTO
 *   Missing Data, Invalid Field, Invalid Attribute (Value),
 *   Bad Cryptographic Parameters                          -EINVAL
 *   Key Value Not Present, Attribute (Instance) Not Found -ENODATA
 *   Wrapping Object Not Found/Destroyed/Archived          -ENOKEY
 *   Object Already Exists, Non Unique Name                -EEXIST
 *   Response Too Large                                    -EMSGSIZE
 *   Server Limit Exceeded                                 -EAGAIN
 *   Operation Canceled By Requester                       -ECANCELED
 *   General Failure, Cryptographic Failure, others        -EIO
 * -ECANCELED means that reason and nothing else: a batch item the server
 * did not answer is -ENOMSG (struct kmip_resp_item).
 */
int kmip_reason_errno(uint32_t reason);
/* "Pre-Active", "Active", ... "Destroyed Compromised", "Unknown State". */
const char *kmip_state_name(int state);
const char *kmip_operation_name(uint32_t op);
const char *kmip_revocation_reason_name(uint32_t reason);

/* --------------------------------------------------------- attributes */

/* Attributes a Get Attributes request can ask for (a bit mask). */
enum kmip_attr {
	KMIP_ATTR_UNIQUE_IDENTIFIER	= 1u << 0,
	KMIP_ATTR_NAME			= 1u << 1,
	KMIP_ATTR_OBJECT_TYPE		= 1u << 2,
	KMIP_ATTR_CRYPTO_ALGORITHM	= 1u << 3,
	KMIP_ATTR_CRYPTO_LENGTH		= 1u << 4,
	KMIP_ATTR_USAGE_MASK		= 1u << 5,
	KMIP_ATTR_STATE			= 1u << 6,
	KMIP_ATTR_OBJECT_GROUP		= 1u << 7,
	KMIP_ATTR_INITIAL_DATE		= 1u << 8,
	KMIP_ATTR_ACTIVATION_DATE	= 1u << 9,
	KMIP_ATTR_DEACTIVATION_DATE	= 1u << 10,
	KMIP_ATTR_COMPROMISE_DATE	= 1u << 11,
	KMIP_ATTR_COMPROMISE_OCCURRENCE_DATE = 1u << 12,
	KMIP_ATTR_DESTROY_DATE		= 1u << 13,
	KMIP_ATTR_LAST_CHANGE_DATE	= 1u << 14,
	KMIP_ATTR_LINK			= 1u << 15,	/* Replacement / Replaced Object links */
};
#define KMIP_ATTR_ALL	0xFFFFu

/* What a Get Attributes response said; `present` has a bit per attribute seen. */
struct kmip_attrs {
	uint32_t present;
	char uid[KMIP_UID_SIZE];		/* the payload's Unique Identifier */
	char attr_uid[KMIP_UID_SIZE];		/* the Unique Identifier attribute */
	unsigned n_names;			/* values kept (<= KMIP_ATTR_VALUES_MAX) */
	char names[KMIP_ATTR_VALUES_MAX][KMIP_TEXT_SIZE];
	unsigned n_groups;
	char groups[KMIP_ATTR_VALUES_MAX][KMIP_TEXT_SIZE];
	uint32_t object_type;
	uint32_t algorithm;
	int32_t length;
	uint32_t usage_mask;
	int state;
	int64_t initial_date, activation_date, deactivation_date;
	int64_t compromise_date, compromise_occurrence_date;
	int64_t destroy_date, last_change_date;	/* POSIX seconds */
	/*
	 * Link attributes of the two types Re-key sets (other types are
	 * ignored; KMIP_ATTR_LINK is present when any Link was seen): the
	 * first Replacement Object Link (on an old key: the key that replaced
	 * it) and the first Replaced Object Link (on a new key: the key it
	 * replaced), "" if none.
	 */
	char replacement[KMIP_UID_SIZE];
	char replaced[KMIP_UID_SIZE];
};

/* Attributes of a new object (Create, Register). */
struct kmip_new_object {
	const char *name;	/* Name (Uninterpreted Text String); NULL: none */
	const char *group;	/* Object Group; NULL: none */
	const char *const *more_groups;	/* further Object Groups after group (group set), */
	size_t n_more_groups;		/* at most KMIP_ATTR_VALUES_MAX - 1 */
	uint32_t usage_mask;	/* always sent (Vault rejects objects without); 0: Encrypt|Decrypt */
	uint32_t algorithm;	/* Create only: Cryptographic Algorithm; 0: AES */
	bool activate;		/* then Activate it (a second request) */
};

/* ---------------------------------------------------- request arguments */

/* Key Wrapping Specification for Get: Encrypt, no encoding. */
struct kmip_key_wrap {
	const char *kek_uid;	/* wrapping key on the server */
	uint32_t mode;		/* KMIP_BCM_NIST_KEY_WRAP (0 means this) or KMIP_BCM_AES_KEY_WRAP_PADDING */
	const uint8_t *kek;	/* local copy of the KEK: kmip_get() unwraps; NULL: stays wrapped */
	size_t kek_len;
};

struct kmip_locate_filter {
	const char *name;	/* NULL: any */
	uint32_t object_type;	/* 0: any */
	int state;		/* 0: any */
	const char *group;	/* NULL: any */
	uint32_t max_items;	/* 0: not sent */
	uint32_t offset_items;	/* 0: not sent (KMIP 1.3 and later only) */
};

/*
 * Re-key arguments beyond the key (KMIP 1.4 section 4.4, 2.1 section
 * 6.1.46).  The replacement gets the old key's attributes, its Names
 * included (the old key loses them), and the server sets the Link
 * attributes of both.
 */
struct kmip_rekey_args {
	const char *name;	/* a further Name for the replacement; NULL: none */
	bool offset_set;	/* send Offset: */
	uint32_t offset;	/* seconds from the replacement's Initial Date to its Activation Date */
};

struct kmip_revoke {
	uint32_t reason;	/* KMIP_REVOKE_* 1..7 */
	const char *message;	/* Revocation Message, NULL: none */
	int64_t compromise_date; /* Key/CA Compromise only; 0: now */
};

/*
 * Encrypt / Decrypt parameters.  CBC: IV and padding.  GCM (mode
 * KMIP_BCM_GCM, KMIP 1.4 and later: the tag fields do not exist before;
 * -EOPNOTSUPP without sending on an older protocol version): tag_len is
 * sent as Tag Length; kmip_encrypt() returns the server's Authenticated
 * Encryption Tag in tag (exactly tag_len bytes, else -EOPNOTSUPP: the
 * server does not do authenticated encryption), kmip_decrypt() sends tag;
 * aad (Authenticated Encryption Additional Data) is sent when not NULL.
 */
struct kmip_crypt_params {
	uint32_t algorithm;	/* 0: AES */
	uint32_t mode;		/* 0: CBC */
	uint32_t padding;	/* 0: PKCS5 for CBC, not sent for GCM */
	uint8_t iv[KMIP_IV_MAX];
	size_t iv_len;		/* 0: the server picks an IV (encrypt returns it here) */
	size_t tag_len;		/* GCM: bytes of tag, 4..KMIP_AE_TAG_MAX */
	uint8_t tag[KMIP_AE_TAG_MAX];
	const uint8_t *aad;	/* GCM: additional authenticated data, NULL: none */
	size_t aad_len;		/* at most KMIP_AE_AAD_MAX */
};

/* ------------------------------------------------------------- results */

/* A Get result.  material is in locked memory: kmip_object_clear(). */
struct kmip_object {
	uint32_t object_type;
	char uid[KMIP_UID_SIZE];
	uint32_t key_format;
	uint32_t secret_data_type;	/* Secret Data only */
	uint32_t algorithm;		/* 0 if absent */
	int32_t length;			/* bits, 0 if absent */
	bool wrapped;			/* material is (still) wrapped */
	uint32_t wrap_mode;		/* Block Cipher Mode from Key Wrapping Data, 0 if absent */
	char wrap_kek_uid[KMIP_UID_SIZE];
	uint8_t *material;
	size_t material_len;
};
void kmip_object_clear(struct kmip_object *o);

struct kmip_uid_list {
	size_t n;
	char **uids;		/* n NUL-terminated identifiers */
	int32_t located_items;	/* the server's Located Items, -1 if absent */
};
void kmip_uid_list_free(struct kmip_uid_list *l);

struct kmip_server_info {
	size_t n_ops;		/* all seen; ops[] keeps KMIP_QUERY_MAX */
	uint32_t ops[KMIP_QUERY_MAX];
	size_t n_objects;
	uint32_t objects[KMIP_QUERY_MAX];
	char vendor[KMIP_TEXT_SIZE];	/* sanitized */
	char info[512];			/* text strings of Server Information, sanitized */
};
bool kmip_server_has_op(const struct kmip_server_info *s, uint32_t op);

/* The last server answer on a client (failed or not). */
struct kmip_result {
	uint32_t op;		/* operation it answered, 0: none yet */
	uint32_t status;	/* KMIP_STATUS_* */
	bool has_reason;
	uint32_t reason;
	char message[KMIP_RESULT_MESSAGE_MAX + 1];	/* sanitized: printable ASCII */
};

/* ------------------------------------------------------ message layer */

/*
 * Request framing.  kmip_msg_begin() writes the header: Protocol Version,
 * Batch Error Continuation Option Continue when count > 1 (so that one
 * missing key does not hide the answers for the others), Batch Count; never
 * a Time Stamp.  Each item: Operation, Unique Batch Item ID (4 bytes,
 * index + 1) when count > 1, then the Request Payload opened for the
 * caller.  kmip_msg_end() returns ttlv_buf_finish().
 */
int kmip_msg_begin(struct ttlv_buf *b, int version, unsigned count);
int kmip_msg_item_begin(struct ttlv_buf *b, uint32_t op, unsigned index, unsigned count);
int kmip_msg_item_end(struct ttlv_buf *b);
int kmip_msg_end(struct ttlv_buf *b);

/* One answered (or not) request item, pointing into the response buffer. */
struct kmip_resp_item {
	bool answered;		/* false: the server did not answer this item */
	uint32_t op;		/* 0 if the response item had none */
	uint32_t status;
	bool has_reason;
	uint32_t reason;
	const char *message;	/* raw Result Message (not NUL-terminated), or NULL */
	size_t message_len;
	bool has_payload;
	struct ttlv_item payload;
	int err;		/* 0 success; Operation Failed: the reason's errno
				 * (kmip_reason_errno(), -ECANCELED only for
				 * Operation Canceled By Requester), -EIO without a
				 * reason; -EINPROGRESS pending; -ENOMSG no result
				 * for this item: not answered (answered false: the
				 * server stopped the batch) or Operation Undone */
};

/*
 * Validate a Response Message answering a request of n items (ops[i]: the
 * operation of item i, or ops NULL) and correlate its batch items with the
 * request: by Unique Batch Item ID when the request had IDs and the item has
 * one, else by position.  A single failed item without ID answering an
 * n-item request is a message-level error and is copied to every item.  The
 * header's protocol version may differ from the request's (*version gets
 * it).  Unknown tags are skipped.  Items the server did not answer keep
 * answered false and err -ENOMSG.  -EBADMSG (the response as a whole, every
 * item then unanswered): not a response, missing or ill-typed header
 * fields, Batch Count not matching the items, more items than asked,
 * unknown or repeated IDs, an Operation that differs from the request's,
 * a Result Status the specification does not have (a malformed answer).
 */
int kmip_response_parse(const uint8_t *msg, size_t len, size_t max_len,
			const uint32_t *ops, unsigned n, int *version,
			struct kmip_resp_item *items);

/* ----------------------------------------------------------- builders */

int kmip_build_discover_versions(struct ttlv_buf *b, int version,
				 const int *offer, size_t n);
int kmip_build_query(struct ttlv_buf *b, int version);
int kmip_build_create(struct ttlv_buf *b, int version, unsigned bits,
		      const struct kmip_new_object *a);
/* Secret Data, type Password, Key Format Type Opaque (as SASED and PyKMIP). */
int kmip_build_register_secret(struct ttlv_buf *b, int version, const uint8_t *secret,
			       size_t len, const struct kmip_new_object *a);
/* Symmetric Key, AES, Key Format Type Raw; len 16, 24 or 32. */
int kmip_build_register_key(struct ttlv_buf *b, int version, const uint8_t *key,
			    size_t len, const struct kmip_new_object *a);
int kmip_build_activate(struct ttlv_buf *b, int version, const char *uid);
int kmip_build_get(struct ttlv_buf *b, int version, const char *uid,
		   const struct kmip_key_wrap *wrap);
/*
 * Get Attributes of attrs (a kmip_attr mask; 0: every attribute).  A mask
 * of attributes an object may lack only (Name, Object Group, Link) gets
 * Object Type added: PyKMIP 0.10 cannot answer a 2.0 Get Attributes that
 * finds no attribute (it drops the connection unanswered).  So do the other
 * Get Attributes builders.
 */
int kmip_build_get_attributes(struct ttlv_buf *b, int version, const char *uid,
			      uint32_t attrs);
/* n (1..KMIP_BATCH_MAX) Get Attributes (State) items in one message. */
int kmip_build_get_states(struct ttlv_buf *b, int version,
			  const char *const *uids, size_t n);
/* The same asking for attrs (a kmip_attr mask) of each. */
int kmip_build_get_attrs_batch(struct ttlv_buf *b, int version, const char *const *uids, size_t n,
			       uint32_t attrs);
int kmip_build_locate(struct ttlv_buf *b, int version, const struct kmip_locate_filter *f);
int kmip_build_revoke(struct ttlv_buf *b, int version, const char *uid,
		      const struct kmip_revoke *r);
int kmip_build_destroy(struct ttlv_buf *b, int version, const char *uid);
int kmip_build_encrypt(struct ttlv_buf *b, int version, const char *uid,
		       const struct kmip_crypt_params *p, const uint8_t *data, size_t len);
int kmip_build_decrypt(struct ttlv_buf *b, int version, const char *uid,
		       const struct kmip_crypt_params *p, const uint8_t *data, size_t len);
/* Re-key of uid: Unique Identifier, Offset, Template-Attribute (1.x) / Attributes (2.x) {Name}. */
int kmip_build_rekey(struct ttlv_buf *b, int version, const char *uid,
		     const struct kmip_rekey_args *a);
/*
 * Add Attribute of one Link {link_type, linked_uid} to uid: 1.x Attribute
 * {Attribute Name "Link", Attribute Value}, 2.x New Attribute {Link}; no
 * Attribute Index (the spec forbids it in a request).
 */
int kmip_build_add_link(struct ttlv_buf *b, int version, const char *uid, uint32_t link_type,
			const char *linked_uid);
/*
 * Two batch items for one key: Get Attributes (attrs), then Get (wrap as
 * kmip_build_get) or, with decrypt, Decrypt of in[0..in_len).
 */
int kmip_build_fetch(struct ttlv_buf *b, int version, const char *uid, uint32_t attrs,
		     const struct kmip_key_wrap *wrap, const struct kmip_crypt_params *decrypt,
		     const uint8_t *in, size_t in_len);
struct kmip_fetch;
/* The same pair of items for n (1..KMIP_BATCH_MAX / 2) keys in one message. */
int kmip_build_fetch_many(struct ttlv_buf *b, int version, struct kmip_fetch *const *f, size_t n);
/*
 * Modify Attribute of one Object Group value, from to to: 2.x names the
 * current value (Current Attribute, New Attribute), 1.x its Attribute Index
 * among the object's groups.
 */
int kmip_build_modify_group(struct ttlv_buf *b, int version, const char *uid,
			    const char *from, const char *to, int32_t index);

/* ----------------------------------------------------- payload parsers */

/* Both encodings: 1.x Attribute structures and a 2.x Attributes structure. */
int kmip_parse_get_attributes(const struct ttlv_item *payload, struct kmip_attrs *out);
/* Key Value as Byte String or as Structure {Key Material}; copies to secmem. */
int kmip_parse_get(const struct ttlv_item *payload, struct kmip_object *out);
/* At most KMIP_LOCATE_MAX identifiers, else -E2BIG. */
int kmip_parse_locate(const struct ttlv_item *payload, struct kmip_uid_list *out);

/* ------------------------------------------------------------- client */

struct kmip_client;
struct transport_opts;

/*
 * Send req[0..req_len) and return one response in locked memory
 * (secmem_free()), like transport_roundtrip().  For tests and proxies.
 */
typedef int (*kmip_roundtrip_fn)(void *ctx, const uint8_t *req, size_t req_len,
				 uint8_t **resp, size_t *resp_len, bool idempotent);

/* Over any roundtrip function (version 0 = auto); kmip_session_open() for a network client. */
int kmip_client_new_custom(kmip_roundtrip_fn fn, void *ctx, int version,
			   struct kmip_client **out);
void kmip_client_free(struct kmip_client *c);
/*
 * The protocol version in use, negotiating on first use: pinned, or
 * Discover Versions offering 2.1..1.0 and taking the server's first
 * choice; a server that cannot answer it is spoken to in 1.0.
 * Returns the version (> 0) or a negative errno.
 */
int kmip_client_version(struct kmip_client *c);
/*
 * Speak version without asking the server (a hint, e.g. what the server
 * spoke at enroll: luks token "protocol"), until an answer confirms it; an
 * answer that says the server does not speak it (Invalid Message, a
 * response that cannot be read in it) makes kmip_fetch() negotiate and ask
 * again.  Ignored if the version is pinned, negotiated already, or not one
 * we speak.
 */
void kmip_client_assume_version(struct kmip_client *c, int version);
/* "host:port" of the server that answered last, or NULL. */
const char *kmip_client_peer(const struct kmip_client *c);

/* The last server answer; status 0 and op 0 before any. */
const struct kmip_result *kmip_last_result(const struct kmip_client *c);

/* What kmip_last_error() holds. */
enum kmip_failure {
	KMIP_FAILURE_NONE = 0,	/* "": success, or nothing to add to the errno
				 * (no answer: transport errors; bad arguments) */
	KMIP_FAILURE_SERVER,	/* the server's answer: print as "server says ..." */
	KMIP_FAILURE_RESPONSE,	/* why the server's answer was refused (-EBADMSG,
				 * -EPROTO...): not the server's words */
};

/*
 * The last failure as one printable line (printable ASCII, at most
 * KMIP_RESULT_MESSAGE_MAX + 64 bytes), valid until the next operation on
 * the client:
 *   KMIP_FAILURE_SERVER    "Item Not Found: <server's Result Message>"
 *   KMIP_FAILURE_RESPONSE  "malformed response: Batch Item (0x42000F) at
 *                          byte 72: no Result Status"
 *   KMIP_FAILURE_NONE      ""
 */
const char *kmip_last_error(const struct kmip_client *c);
enum kmip_failure kmip_last_failure(const struct kmip_client *c);
/*
 * NULL, or when the last operation failed while negotiating the protocol
 * version (before the operation itself was sent) the step that failed,
 * "negotiating the KMIP version with kms.example:5696", for a message
 * "<step> failed: <errno text or kmip_last_error()>" that does not blame
 * the operation asked for.
 */
const char *kmip_last_failure_step(const struct kmip_client *c);

/* Bytes that hold any kmip_failure_text() or kmip_failure_reason() line. */
#define KMIP_FAILURE_TEXT_SIZE	1024u

/*
 * Why an operation on c failed (r: its negative return), as one printable
 * line for an error message, written into buf (cut at len - 1 bytes;
 * KMIP_FAILURE_TEXT_SIZE is enough); returns buf.  Call it before the next
 * operation on c; c may be NULL (then only r counts).  Every message about
 * a failed KMIP operation goes through these two, so that none calls our
 * own reason the server's, or blames an operation that was never sent.
 *
 * kmip_failure_reason():
 *   KMIP_FAILURE_SERVER    "server says <kmip_last_error()>"
 *   KMIP_FAILURE_RESPONSE  "<kmip_last_error()>": our reason, not the
 *                          server's words ("malformed response: ...")
 *   KMIP_FAILURE_NONE      strerror(-r); for -EKEYREJECTED "TLS or
 *                          authentication failure", for -ENOMSG "the
 *                          server left this item of the batch unanswered"
 *
 * kmip_failure_text(): "<what> failed: <reason>", what being printf(fmt, ...)
 * ("Get Attributes of key 'k1'"); when the operation failed while the
 * version was negotiated (kmip_last_failure_step()), the step is charged
 * instead: "negotiating the KMIP version with HOST:PORT failed: <reason>;
 * <what> was not sent".
 */
const char *kmip_failure_reason(const struct kmip_client *c, int r, char *buf, size_t len);
const char *kmip_failure_text(const struct kmip_client *c, int r, char *buf, size_t len,
			      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ------------------------------------------------------------ sessions */

/*
 * A client over mutual TLS to one server group (net/transport.h), bounded by
 * a deadline for the whole job: before each request, if the worst case of
 * the group's per-phase timeout (connect, handshake, write, read, times the
 * servers of the failover) no longer fits in the time left, the transport
 * is rebuilt with a lower timeout; when too little is left (under 100 ms a
 * phase) the request is not sent (-ETIMEDOUT).  Requests are never resent.
 * The credentials are loaded at open: a file that cannot be used fails here
 * (logged, with where the setting was made), not as a server failure later.
 * One thread at a time per session.
 */
struct kmip_session;
struct kmip_session_opts {
	const char *name;			/* the group's name, for messages */
	const struct transport_opts *tls;	/* must outlive the session */
	int version;				/* 0 = auto (Discover Versions) */
};
/* deadline: clock_now_ms() time (util/clock.h), 0 for none.  Does not connect. */
int kmip_session_open(const struct kmip_session_opts *o, int64_t deadline,
		      struct kmip_session **out);
/* The session's client, for the operations below; owned by the session. */
struct kmip_client *kmip_session_client(struct kmip_session *s);
void kmip_session_close(struct kmip_session *s);	/* NULL is fine */

/* ---------------------------------------------------------- operations */

/* Versions the server supports among the offered (2.1..1.0), its order. */
int kmip_discover_versions(struct kmip_client *c, int *versions, size_t max, size_t *n);
int kmip_query(struct kmip_client *c, struct kmip_server_info *out);
/*
 * A Symmetric Key of a->algorithm (AES: bits 128, 192 or 256; others a
 * multiple of 8 up to 8 * KMIP_MATERIAL_MAX); uid receives its identifier
 * (also on activation failure).
 */
int kmip_create(struct kmip_client *c, unsigned bits, const struct kmip_new_object *a,
		char uid[KMIP_UID_SIZE]);
int kmip_register_secret(struct kmip_client *c, const uint8_t *secret, size_t len,
			 const struct kmip_new_object *a, char uid[KMIP_UID_SIZE]);
int kmip_register_key(struct kmip_client *c, const uint8_t *key, size_t len,
		      const struct kmip_new_object *a, char uid[KMIP_UID_SIZE]);
int kmip_activate(struct kmip_client *c, const char *uid);
/*
 * Get an object.  With wrap, the server wraps the key with wrap->kek_uid;
 * with wrap->kek as well it is unwrapped here and must have been wrapped
 * (a server that ignored the wrapping request gives -EPROTO).
 */
int kmip_get(struct kmip_client *c, const char *uid, const struct kmip_key_wrap *wrap,
	     struct kmip_object *out);
int kmip_get_attributes(struct kmip_client *c, const char *uid, uint32_t attrs,
			struct kmip_attrs *out);
/*
 * State of n keys, KMIP_BATCH_MAX per request message.  Returns 0 when the
 * server answered (then per key: errs[i] 0 and states[i], or errs[i] < 0:
 * -ENOENT not found, -ENODATA no State in the answer, -ENOMSG not
 * answered (the server stopped the batch before it: unknown, not revoked),
 * -EBADMSG an answer that cannot be read, other errno from the reason as
 * kmip_reason_errno(), -ECANCELED only for Operation Canceled By
 * Requester), or a negative errno if a request failed as a whole.
 */
int kmip_get_states(struct kmip_client *c, const char *const *uids, size_t n,
		    int *states, int *errs);
/*
 * The general form: attrs (a kmip_attr mask) of n keys, KMIP_BATCH_MAX per
 * request message; each answer handed to fn(ctx, i, err, a) as it is read
 * (a valid only during the call, NULL when err < 0; errors as above, with
 * -ENODATA when an attribute of attrs that every object has, State, is
 * missing).  Returns 0 when the server answered every message, else the
 * failure of the first message that failed as a whole (the keys of the
 * messages before it were handed to fn).
 */
int kmip_get_attrs_each(struct kmip_client *c, const char *const *uids, size_t n, uint32_t attrs,
			void (*fn)(void *ctx, size_t i, int err, const struct kmip_attrs *a),
			void *ctx);
/* Identifiers matching f.  Servers ignore filters: check with kmip_locate_verify(). */
int kmip_locate(struct kmip_client *c, const struct kmip_locate_filter *f,
		struct kmip_uid_list *out);
/*
 * Does uid match f by its attributes (Get Attributes: Name, Object Type,
 * State, Object Group must be present and equal where f sets them)?
 * 1 yes, 0 no, negative errno.
 */
int kmip_locate_verify(struct kmip_client *c, const char *uid, const struct kmip_locate_filter *f);
int kmip_revoke(struct kmip_client *c, const char *uid, const struct kmip_revoke *r);
/*
 * Move uid from Object Group from to Object Group to (Modify Attribute; at
 * 1.x a Get Attributes first finds the index of from).  0 also when the
 * object is no longer in from (done before).
 */
int kmip_modify_group(struct kmip_client *c, const char *uid, const char *from, const char *to);
int kmip_destroy(struct kmip_client *c, const char *uid);
/* Output in locked memory (secmem_free()). */
int kmip_encrypt(struct kmip_client *c, const char *uid, struct kmip_crypt_params *p,
		 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);
int kmip_decrypt(struct kmip_client *c, const char *uid, const struct kmip_crypt_params *p,
		 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);
/*
 * What unlock needs of one key, in one request of two batch items: its
 * attributes (State at least), then its material (Get, with wrap as
 * kmip_get()) or, with decrypt, the Decrypt of in[0..in_len).  Material
 * that comes back for a key that is not Active is wiped unused.  A server
 * that answers the first item only is asked for the second alone; one that
 * refuses the batch (Invalid Message, not supported) gets two requests.  In
 * a version assumed from a hint (kmip_client_assume_version()) an answer
 * that says the server does not speak it makes it negotiate and ask again.
 *
 * Returns 0 when the attributes were answered: f->attrs; f->fetch_err is 0
 * with f->obj (Get) or f->out (Decrypt, locked memory) filled, -ENOKEY if the
 * key is not Active (nothing kept), or the errno of the second item's failure
 * (kmip_last_result() then holds that answer).  A negative errno: the
 * attributes were not answered (the request as a whole, or Get Attributes
 * failed: -ENOENT not found...; kmip_last_result() holds that answer).
 * The caller frees f->obj (kmip_object_clear) and f->out (secmem_free).
 */
struct kmip_fetch {
	const char *uid;
	uint32_t attrs_wanted;			/* KMIP_ATTR_*; 0: State */
	const struct kmip_key_wrap *wrap;	/* Get */
	const struct kmip_crypt_params *decrypt;	/* not NULL: Decrypt instead of Get */
	const uint8_t *in;
	size_t in_len;
	struct kmip_attrs attrs;		/* out */
	int fetch_err;				/* out */
	struct kmip_object obj;			/* out, Get */
	uint8_t *out;				/* out, Decrypt */
	size_t out_len;
	int err;				/* out, kmip_fetch_many() only: as kmip_fetch() returns */
};
int kmip_fetch(struct kmip_client *c, struct kmip_fetch *f);
/*
 * The same for n keys, every pair of items of up to KMIP_BATCH_MAX / 2 keys
 * in one message: f[i]->err is what kmip_fetch() would return for key i
 * (-ENOMSG: not answered), the rest as there.  No fallback here (no second
 * request, no renegotiation): a key whose answer is not usable is for the
 * caller to ask again with kmip_fetch().  Returns 0, or the errno of a
 * message that failed as a whole (then every key not answered has it).
 * kmip_last_result() is the first failed item's: of little use with n keys.
 */
int kmip_fetch_many(struct kmip_client *c, struct kmip_fetch *const *f, size_t n);
/*
 * Does the server offer operation op?  1 its Query (Query Operations)
 * lists op; 0 it does not, or the server answered Query with a failure
 * (not known to be offered is not offered); a negative errno when Query got
 * no usable answer (transport, negotiation, a malformed answer).  The
 * answer is kept on the client for the protocol version it was asked in
 * (the list may depend on it, PyKMIP's does), so that Query is sent once;
 * kmip_query() refreshes it.
 */
int kmip_server_offers(struct kmip_client *c, uint32_t op);
/*
 * Re-key (op 0x04) of the Symmetric Key uid; new_uid gets the
 * replacement's identifier ("" on failure).  a may be NULL (nothing but
 * the key: the server copies every attribute, Names included).
 * -EOPNOTSUPP the server has no Re-key (PyKMIP 0.10: Operation Not
 * Supported); -EBADMSG also for an answer that names uid itself as its
 * replacement (acting on it would retire the only key).  The
 * replacement's State is the server's (from the old key's dates: the
 * replacement of an Active key is Active, unless a->offset puts its
 * activation later): ask it.  Not idempotent: never resent.
 */
int kmip_rekey_with(struct kmip_client *c, const char *uid, const struct kmip_rekey_args *a,
		    char new_uid[KMIP_UID_SIZE]);
/* kmip_rekey_with(c, uid, NULL, new_uid). */
int kmip_rekey(struct kmip_client *c, const char *uid, char new_uid[KMIP_UID_SIZE]);

/* ------------------------------------------------------------- re-key */

/* kmip_replace_key(): what it is asked for, and what it did. */
struct kmip_replace_args {
	/*
	 * Re-key: a Name added to the replacement (which takes the old key's
	 * Names anyway).  Create: the new key's Name; NULL: the old key's
	 * first Name followed by name_suffix (no Name if either is missing).
	 */
	const char *name;
	const char *name_suffix;
};
struct kmip_replacement {
	char uid[KMIP_UID_SIZE];	/* the new key; "" if none was made */
	bool rekeyed;			/* made by KMIP Re-key; false: by Create */
	int state;			/* its State afterwards; 0: unknown */
	struct kmip_attrs old;		/* the old key's attributes, as read first */
};
/*
 * A new Symmetric Key to replace old_uid, on the server only (nothing
 * encrypted or wrapped under the old key is touched: that key is still
 * needed for it).  The old key's attributes are read first (out->old);
 * then KMIP Re-key where the server offers it (kmip_server_offers()), and
 * Create where it does not or where it then answers Operation Not
 * Supported.  Create makes a key with the old key's Cryptographic
 * Algorithm, Cryptographic Length, Cryptographic Usage Mask and Object
 * Groups (those kept, KMIP_ATTR_VALUES_MAX), Name as a->name says,
 * activated unless the old key is Pre-Active: the State Re-key gives it
 * too.  Unlike Re-key, Create leaves the old key its Names, sets no Link
 * (kmip_link_replacement() does) and carries over no attribute kmipcrypt
 * does not read (Operation Policy Name, Contact Information, custom
 * attributes, dates).  Nothing is revoked.
 *
 * Returns 0 (out->uid, out->rekeyed, out->state: read after, 0 if that
 * failed), or a negative errno: -EKEYMISMATCH the old object is not a
 * Symmetric Key, -EKEYREVOKED it is Destroyed, -EEXIST it has a
 * replacement already (a Replacement Object Link to a key that exists and
 * is not Destroyed: the spec allows one), -ENODATA the server does
 * not say its algorithm or length (Create cannot copy them), -EINVAL the
 * derived Name would be longer than KMIP_TEXT_MAX, or the operation's
 * error (kmip_failure_text() says which and why).  out->uid may be set
 * when r < 0: the key was made but not activated; the caller says so.
 */
int kmip_replace_key(struct kmip_client *c, const char *old_uid,
		     const struct kmip_replace_args *a, struct kmip_replacement *out);
/*
 * Link old_uid and its replacement new_uid as Re-key does: Link
 * {Replacement Object, new_uid} on old_uid, Link {Replaced Object,
 * old_uid} on new_uid, each by Add Attribute after reading the object's
 * links (Get Attributes): a link already there is not added again, so a
 * second call (after a crash, or after a Re-key whose server linked them
 * itself) adds nothing.  Best effort by design: a caller reports a failure
 * ("not linked: ...") and goes on.
 *
 * 0 linked (or already); -EOPNOTSUPP the server keeps no such links (its
 * answer to Add Attribute: Operation or Feature Not Supported, Invalid
 * Message (PyKMIP 0.10 cannot read an Add Attribute request), Unsupported
 * Attribute, Invalid Attribute); -EEXIST old_uid already names another
 * replacement, or new_uid another replaced key (not overwritten);
 * -EINVAL old_uid and new_uid are the same; other errors as the
 * operations return them.  kmip_failure_text() says which step failed and
 * the server's words.
 */
int kmip_link_replacement(struct kmip_client *c, const char *old_uid, const char *new_uid);

/* -------------------------------------------------------- key wrapping */

/*
 * Unwrap with AES key wrap: mode KMIP_BCM_NIST_KEY_WRAP (RFC 3394) or
 * KMIP_BCM_AES_KEY_WRAP_PADDING (RFC 5649); kek 16, 24 or 32 bytes.
 * *out is locked memory (secmem_free()).  -EINVAL bad lengths,
 * -EOPNOTSUPP other modes, -EBADMSG integrity check failed (wrong KEK or
 * corrupted data).
 */
int kmip_unwrap(uint32_t mode, const uint8_t *kek, size_t kek_len,
		const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);
/* The inverse, for enrolment and tests.  *out is locked memory. */
int kmip_wrap(uint32_t mode, const uint8_t *kek, size_t kek_len,
	      const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);

#endif
