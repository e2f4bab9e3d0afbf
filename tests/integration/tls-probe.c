// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tls-probe: a tiny driver of the transport for the integration tests
 * (until the kmipcrypt CLI exists).  Connects with the transport's failover
 * to the servers given, sends one hand-encoded KMIP 1.2 Discover Versions
 * request, and says what happened.
 *
 *   tls-probe --ca F [--cert F --key F] [--key-password-file F] [--pin HEX]
 *             [--timeout MS] [--tls-min 1.2|1.3] [--ciphers LIST] [-v]
 *             [--repeat N [--pause-ms MS]] [--non-idempotent] SERVER...
 *
 * --repeat sends the request N times on the same transport, pausing
 * between them (to let a proxy drop the idle connection).
 *
 * Prints one line "result: ..." (and the transport's log on stderr).
 * Exit: 0 success, 2 no server reachable (network), 3 TLS or authentication
 * failure (also a KMIP "Authentication Not Successful"), 4 another KMIP
 * error result, 5 malformed or oversized response, 1 anything else.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "net/transport.h"
#include "ttlv/ttlv.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

/*
 * Request Message {
 *   Request Header { Protocol Version { Major 1, Minor 2 }, Batch Count 1 }
 *   Batch Item { Operation Discover Versions (0x1E), Request Payload {} }
 * }
 */
static const uint8_t discover_versions[] = {
	0x42, 0x00, 0x78, 0x01, 0x00, 0x00, 0x00, 0x60,	/* Request Message, 96 */
	0x42, 0x00, 0x77, 0x01, 0x00, 0x00, 0x00, 0x38,	/*  Request Header, 56 */
	0x42, 0x00, 0x69, 0x01, 0x00, 0x00, 0x00, 0x20,	/*   Protocol Version, 32 */
	0x42, 0x00, 0x6a, 0x02, 0x00, 0x00, 0x00, 0x04,	/*    Major */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,	/*    1 + pad */
	0x42, 0x00, 0x6b, 0x02, 0x00, 0x00, 0x00, 0x04,	/*    Minor */
	0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,	/*    2 + pad */
	0x42, 0x00, 0x0d, 0x02, 0x00, 0x00, 0x00, 0x04,	/*   Batch Count */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,	/*   1 + pad */
	0x42, 0x00, 0x0f, 0x01, 0x00, 0x00, 0x00, 0x18,	/*  Batch Item, 24 */
	0x42, 0x00, 0x5c, 0x05, 0x00, 0x00, 0x00, 0x04,	/*   Operation */
	0x00, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x00,	/*   Discover Versions + pad */
	0x42, 0x00, 0x79, 0x01, 0x00, 0x00, 0x00, 0x00,	/*   Request Payload, empty */
};

#define TAG_RESPONSE_MESSAGE	0x42007Bu
#define TAG_BATCH_ITEM		0x42000Fu
#define TAG_RESULT_STATUS	0x42007Fu
#define TAG_RESULT_REASON	0x42007Eu
#define TAG_RESULT_MESSAGE	0x42007Du
#define TAG_RESPONSE_PAYLOAD	0x42007Cu
#define TAG_PROTOCOL_VERSION	0x420069u
#define TAG_PV_MAJOR		0x42006Au
#define TAG_PV_MINOR		0x42006Bu
#define REASON_AUTH_NOT_SUCCESSFUL 0x03u

static const char *errno_name(int e)
{
	switch (e) {
	case ECONNREFUSED:	return "ECONNREFUSED";
	case ETIMEDOUT:		return "ETIMEDOUT";
	case EHOSTUNREACH:	return "EHOSTUNREACH";
	case ENETUNREACH:	return "ENETUNREACH";
	case ECONNRESET:	return "ECONNRESET";
	case EKEYREJECTED:	return "EKEYREJECTED";
	case EBADMSG:		return "EBADMSG";
	case EMSGSIZE:		return "EMSGSIZE";
	case EACCES:		return "EACCES";
	case EINVAL:		return "EINVAL";
	default:		return "?";
	}
}

static int exit_code(int r)
{
	switch (-r) {
	case ECONNREFUSED: case ETIMEDOUT: case EHOSTUNREACH: case ENETUNREACH:
	case ECONNRESET:
		return 2;
	case EKEYREJECTED:
		return 3;
	case EBADMSG: case EMSGSIZE:
		return 5;
	default:
		return 1;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read a password file (one line; a trailing newline is not part of it). */
static char *read_pass(const char *path)
{
	FILE *f = fopen(path, "re");
	char *pw = secmem_alloc(1024);
	size_t n = 0;

	if (!f || !pw) {
		if (f)
			fclose(f);
		secmem_free(pw);
		return NULL;
	}
	n = fread(pw, 1, 1023, f);
	fclose(f);
	pw[n] = '\0';
	pw[strcspn(pw, "\n")] = '\0';
	return pw;
}

/* Print the result of the Discover Versions response; exit code. */
static int report(const uint8_t *resp, size_t len)
{
	struct ttlv_item root, bi, payload, pv, it;
	struct ttlv_iter iter;
	const char *msg = NULL;
	size_t msg_len = 0;
	uint32_t status, reason = 0;
	int32_t maj, min;

	if (ttlv_decode(resp, len, NULL, &root) < 0 || root.tag != TAG_RESPONSE_MESSAGE ||
	    ttlv_find(&root, TAG_BATCH_ITEM, &bi) < 0 ||
	    ttlv_find_enum(&bi, TAG_RESULT_STATUS, &status) < 0) {
		printf("result: malformed response (%zu bytes)\n", len);
		return 5;
	}
	if (status != 0) {
		ttlv_find_enum(&bi, TAG_RESULT_REASON, &reason);
		ttlv_find_text(&bi, TAG_RESULT_MESSAGE, &msg, &msg_len);
		printf("result: KMIP error: status %u, reason 0x%x%s, message \"%.*s\"\n",
		       status, reason,
		       reason == REASON_AUTH_NOT_SUCCESSFUL ? " (Authentication Not Successful)" : "",
		       (int)(msg_len > 300 ? 300 : msg_len), msg ? msg : "");
		return reason == REASON_AUTH_NOT_SUCCESSFUL ? 3 : 4;
	}
	printf("result: success, server versions:");
	if (ttlv_find(&bi, TAG_RESPONSE_PAYLOAD, &payload) == 0) {
		ttlv_iter_init(&iter, &payload);
		while (ttlv_iter_next(&iter, &it)) {
			pv = it;
			if (it.tag != TAG_PROTOCOL_VERSION ||
			    ttlv_find_int(&pv, TAG_PV_MAJOR, &maj) < 0 ||
			    ttlv_find_int(&pv, TAG_PV_MINOR, &min) < 0)
				continue;
			printf(" %d.%d", maj, min);
		}
	}
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "key-password-file", required_argument, NULL, 'p' },
		{ "pin", required_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 't' },
		{ "tls-min", required_argument, NULL, 'm' },
		{ "ciphers", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "repeat", required_argument, NULL, 'R' },
		{ "pause-ms", required_argument, NULL, 'Z' },
		{ "non-idempotent", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct transport_opts o = { .tls_min_version = TLS1_2_VERSION };
	struct transport *t = NULL;
	char *pw = NULL;
	uint8_t *resp = NULL;
	size_t resp_len = 0;
	int64_t t0 = now_ms(), t1, t2;
	unsigned repeat = 1, pause_ms = 0, i;
	bool idempotent = true;
	int c, r, rc = 1;

	while ((c = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		switch (c) {
		case 'a': o.ca_file = optarg; break;
		case 'c': o.cert_file = optarg; break;
		case 'k': o.key_file = optarg; break;
		case 'p':
			pw = read_pass(optarg);
			if (!pw) {
				fprintf(stderr, "tls-probe: cannot read %s\n", optarg);
				goto out;
			}
			o.key_password = pw;
			break;
		case 'P':
			if (hex_decode(optarg, strlen(optarg), o.pin_sha256, 32) < 0) {
				fprintf(stderr, "tls-probe: --pin wants 64 hex digits\n");
				goto out;
			}
			o.has_pin = true;
			break;
		case 't': o.timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm':
			o.tls_min_version = strcmp(optarg, "1.3") == 0 ? TLS1_3_VERSION :
									 TLS1_2_VERSION;
			break;
		case 'C': o.cipher_suites = optarg; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		case 'R': repeat = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'Z': pause_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'N': idempotent = false; break;
		default: goto out;
		}
	}
	for (; optind < argc && o.n_servers < TRANSPORT_MAX_SERVERS; optind++) {
		if (server_addr_parse(argv[optind], &o.servers[o.n_servers]) < 0) {
			fprintf(stderr, "tls-probe: bad server %s\n", argv[optind]);
			goto out;
		}
		o.n_servers++;
	}
	log_set_ident("tls-probe");

	r = transport_new(&o, &t);
	if (r < 0)
		goto fail;
	t0 = now_ms();
	r = transport_connect(t);
	t1 = now_ms();
	if (r < 0)
		goto fail;
	for (i = 0; i < repeat; i++) {
		if (i > 0) {
			struct timespec ts = { pause_ms / 1000, (long)(pause_ms % 1000) * 1000000 };

			nanosleep(&ts, NULL);
			secmem_free(resp);
			resp = NULL;
			t1 = now_ms();
		}
		r = transport_roundtrip(t, discover_versions, sizeof(discover_versions),
					&resp, &resp_len, idempotent);
		t2 = now_ms();
		if (r < 0)
			goto fail;
		printf("connected: %s, connect+handshake %lld ms, roundtrip %lld ms\n",
		       transport_peer(t), (long long)(t1 - t0), (long long)(t2 - t1));
		rc = report(resp, resp_len);
		if (rc)
			goto out;
	}
	goto out;
fail:
	printf("result: error %d (%s), exit %d, after %lld ms\n", r, errno_name(-r),
	       exit_code(r), (long long)(now_ms() - t0));
	rc = exit_code(r);
out:
	secmem_free(resp);
	transport_free(t);
	secmem_free(pw);
	return rc;
}
