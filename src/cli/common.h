/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pieces every verb shares: configuration, the KMIP client, error reporting. */
#ifndef KMIPCRYPT_CLI_COMMON_H
#define KMIPCRYPT_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config;
struct config_group;
struct kmip_client;
struct kmip_session;

/*
 * Load the configuration (-c, or the default path), pick the group (-g, or
 * "default"), read its key password (or ask for it on the terminal for an
 * encrypted key).  Errors are logged; returns 0 or the exit code to leave
 * with.
 */
int cli_load_config(struct config **cfg);
/*
 * Load the configuration file only (-c, or the default path), without
 * picking a group: for commands whose groups come from LUKS2 tokens.
 * Errors are logged; returns 0 or the exit code to leave with.
 */
int cli_load_config_file(struct config **cfg);
/* The same, and a session with the group (no overall deadline). */
int cli_open_session(struct config **cfg, struct kmip_session **s);
void cli_close_session(struct config *cfg, struct kmip_session *s);

/*
 * Log why `what` failed (on which server and key, with the reason: the server's, or ours
 * and message, and what to try next) and return the exit code for r.
 */
int cli_fail(int r, struct kmip_client *c, const char *what, const char *uid);

/*
 * Log "MESSAGE; see 'kmipcrypt VERB --help'" and return EXIT_USAGE: every
 * verb's answer to a command line it cannot take.
 */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * --token ID of verb: a token number 0 to 31 into *id; 0, or EXIT_USAGE
 * (cli_usage_error()).
 */
int cli_token_id(const char *verb, const char *s, int *id);
/*
 * Before a verb reads LUKS2 headers: no external token handler in this
 * process (we parse kmip tokens ourselves, and a plugin's validation would
 * run on crypt_token_status() and crypt_token_json_set()), libcryptsetup's
 * own messages into our log (luks_log_setup()).
 */
void cli_luks_setup(void);

/* "2026-11-23T10:55:42Z" into buf; "-" for 0. */
const char *cli_time(int64_t t, char *buf, size_t len);

/* Read a whole file (or stdin for "-") into locked memory, at most max bytes. */
int cli_read_secret(const char *path, size_t max, uint8_t **out, size_t *len);

/*
 * Ask on /dev/tty with echo off; the answer (at most max bytes, not empty)
 * into locked memory, NUL-terminated.  -ENOTTY when there is no terminal.
 * SIGINT, SIGTERM or SIGHUP at the prompt: the terminal is restored and
 * -EINTR returned when the caller caught them (util/interrupt.h); otherwise
 * the process ends as the signal would, the terminal restored first.
 */
int cli_prompt_secret(const char *prompt, size_t max, char **out, size_t *len);

#endif
