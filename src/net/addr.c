// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * server_addr_parse(): "host", "host:port", "[v6]", "[v6]:port", "v6"
 * (declared in net/transport.h, shared by the config file and the CLI).
 *
 * The host is only checked for plausibility here (what a DNS name or an IP
 * literal can contain); whether it resolves is the transport's business, at
 * connect time, when the network may be up.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>

#include "net/transport.h"
#include "util/strnum.h"

/* RFC 1035 limit on a whole name, and what fits our buffer. */
#define DNS_NAME_MAX 253

static bool is_dns_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* Name or IPv4 literal: letters, digits, '-', '_', '.'; no empty label. */
static bool host_ok(const char *h, size_t len)
{
	size_t i;

	if (len == 0 || len > DNS_NAME_MAX || h[0] == '.' || h[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		if (!is_dns_char(h[i]))
			return false;
		if (h[i] == '.' && i + 1 < len && h[i + 1] == '.')
			return false;
	}
	return true;
}

/* IPv6 literal, optionally with a zone ("fe80::1%eth0") as getaddrinfo() takes. */
static bool ipv6_ok(const char *h, size_t len)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
	struct in6_addr a;
	const char *zone;
	size_t i, alen = len;
	bool ok = false;

	if (len == 0 || len >= sizeof(buf))
		goto out;
	memcpy(buf, h, len);
	buf[len] = '\0';
	zone = memchr(buf, '%', len);
	if (zone) {
		alen = (size_t)(zone - buf);
		zone++;
		if (*zone == '\0' || strlen(zone) >= IF_NAMESIZE)
			goto out;
		for (i = 0; zone[i]; i++)
			if (!is_dns_char(zone[i]))
				goto out;
		buf[alen] = '\0';
	}
	ok = inet_pton(AF_INET6, buf, &a) == 1;
out:
	return ok;
}

int server_addr_parse(const char *s, struct server_addr *out)
{
	unsigned long long port = KMIP_DEFAULT_PORT;
	const char *host, *colon, *end;
	size_t hlen;
	int r = -EINVAL;

	if (!s || !out)
		goto out;
	if (s[0] == '[') {
		/* "[v6]" or "[v6]:port" */
		host = s + 1;
		end = strchr(host, ']');
		if (!end)
			goto out;
		hlen = (size_t)(end - host);
		if (!ipv6_ok(host, hlen))
			goto out;
		if (end[1] == ':') {
			if (parse_uint(end + 2, 1, 65535, &port) < 0)
				goto out;
		} else if (end[1] != '\0') {
			goto out;
		}
	} else {
		host = s;
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* Two colons or more: a bare IPv6 literal, no port possible. */
			hlen = strlen(s);
			if (!ipv6_ok(host, hlen))
				goto out;
		} else {
			hlen = colon ? (size_t)(colon - s) : strlen(s);
			if (!host_ok(host, hlen))
				goto out;
			if (colon && parse_uint(colon + 1, 1, 65535, &port) < 0)
				goto out;
		}
	}
	if (hlen >= sizeof(out->host))
		goto out;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = (uint16_t)port;
	r = 0;
out:
	return r;
}
