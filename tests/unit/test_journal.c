// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: util/journal (the audit entries of kmipcryptd and kmipcrypt):
 * the entry journal_entry_format() makes, field by field, what it refuses,
 * and journal_entry()'s log line.  The entry as the real journald stores it
 * is checked by tests/integration/test-rekey-due.sh (systemd-journald in a
 * mount namespace of its own).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/journal.h"
#include "util/log.h"

#define ID "b360f40b9530423d8a83debbd4637991"

/* Entry i of e as a C string. */
static const char *field(const struct journal_entry *e, size_t i, char *buf, size_t len)
{
	assert_true(i < e->n);
	assert_true(e->iov[i].iov_len < len);
	memcpy(buf, e->iov[i].iov_base, e->iov[i].iov_len);
	buf[e->iov[i].iov_len] = '\0';
	return buf;
}

static void test_format(void **state)
{
	const struct journal_field f[] = {
		{ "KMIPCRYPT_DEVICE", "/dev/sda3" },
		{ "KMIPCRYPT_ROTATE_AFTER", NULL },	/* left out */
		{ "KMIPCRYPT_OLD_KEY_UID", "17" },
		{ "KMIPCRYPT_NOTE", "two\nlines" },	/* sent as it is: the journal keeps it */
		{ "KMIPCRYPT_EMPTY", "" },
	};
	static struct journal_entry e;
	char b[LOG_LINE_MAX + 128];

	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "kmipcrypt", ID, f, 5,
					      "%s: token %d rotated", "/dev/sda3", 0), 0);
	assert_int_equal(e.n, 8);
	assert_string_equal(field(&e, 0, b, sizeof(b)), "MESSAGE=kmipcrypt: /dev/sda3: token 0 rotated");
	assert_string_equal(field(&e, 1, b, sizeof(b)), "MESSAGE_ID=" ID);
	assert_string_equal(field(&e, 2, b, sizeof(b)), "PRIORITY=6");
	assert_string_equal(field(&e, 3, b, sizeof(b)), "SYSLOG_IDENTIFIER=kmipcrypt");
	assert_string_equal(field(&e, 4, b, sizeof(b)), "KMIPCRYPT_DEVICE=/dev/sda3");
	assert_string_equal(field(&e, 5, b, sizeof(b)), "KMIPCRYPT_OLD_KEY_UID=17");
	assert_string_equal(field(&e, 6, b, sizeof(b)), "KMIPCRYPT_NOTE=two\nlines");
	assert_string_equal(field(&e, 7, b, sizeof(b)), "KMIPCRYPT_EMPTY=");
	assert_string_equal(e.text, "/dev/sda3: token 0 rotated");

	/* kmipcryptd's: its ident, level and no field at all are fine too. */
	assert_int_equal(journal_entry_format(&e, LOG_LVL_ERR, "kmipcryptd", ID, NULL, 0, "x"), 0);
	assert_int_equal(e.n, 4);
	assert_string_equal(field(&e, 0, b, sizeof(b)), "MESSAGE=kmipcryptd: x");
	assert_string_equal(field(&e, 2, b, sizeof(b)), "PRIORITY=3");
}

static void test_refused(void **state)
{
	static const char *const bad_names[] = {
		"kmipcrypt_device", "_PID", "1ABC", "A-B", "A B", "", NULL,
		"A2345678901234567890123456789012345678901234567890123456789012345",	/* 65 */
	};
	static struct journal_entry e;
	struct journal_field f[JOURNAL_FIELDS_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		f[0].name = bad_names[i];
		f[0].value = "v";
		assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", ID, f, 1, "m"), -EINVAL);
		assert_int_equal(e.n, 0);
	}
	f[0].name = "A234567890123456789012345678901234567890123456789012345678901234";	/* 64 */
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", ID, f, 1, "m"), 0);
	/* MESSAGE_ID: 32 lower-case hex digits. */
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", "B360F40B9530423D8A83DEBBD4637991",
					      NULL, 0, "m"), -EINVAL);
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", ID "0", NULL, 0, "m"), -EINVAL);
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", NULL, NULL, 0, "m"), -EINVAL);
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "", ID, NULL, 0, "m"), -EINVAL);
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, NULL, ID, NULL, 0, "m"), -EINVAL);
	/* At most JOURNAL_FIELDS_MAX fields. */
	for (i = 0; i <= JOURNAL_FIELDS_MAX; i++) {
		f[i].name = "F";
		f[i].value = "v";
	}
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", ID, f, JOURNAL_FIELDS_MAX, "m"), 0);
	assert_int_equal(e.n, JOURNAL_FIELDS_MAX + 4);
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", ID, f, JOURNAL_FIELDS_MAX + 1,
					      "m"), -EINVAL);
}

/* A message longer than a log line is cut, visibly; values too long for the entry refuse it. */
static void test_lengths(void **state)
{
	static struct journal_entry e;
	static char big[JOURNAL_ENTRY_MAX + 1];
	struct journal_field f[1] = { { "BIG", big } };

	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", ID, NULL, 0, "%s", big), 0);
	assert_int_equal(strlen(e.text), LOG_LINE_MAX - 1);
	assert_non_null(strstr(e.text, LOG_TRUNCATED));
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", ID, f, 1, "m"), -EINVAL);
	assert_int_equal(e.n, 0);
	big[LOG_LINE_MAX] = '\0';
	assert_int_equal(journal_entry_format(&e, LOG_LVL_INFO, "k", ID, f, 1, "m"), 0);
	assert_int_equal(e.iov[4].iov_len, strlen("BIG=") + LOG_LINE_MAX);
}

/* ---- journal_entry(): the line ---------------------------------------- */

static char lines[8][LOG_LINE_MAX];
static enum log_level levels[8];
static unsigned n_lines;

static void sink(enum log_level lvl, const char *msg, void *ctx)
{
	if (n_lines < 8) {
		snprintf(lines[n_lines], sizeof(lines[0]), "%s", msg);
		levels[n_lines] = lvl;
	}
	n_lines++;
}

static void test_entry_line(void **state)
{
	const struct journal_field f[] = { { "KMIPCRYPT_TOKEN", "0" } };
	bool journal = access("/run/systemd/journal/socket", W_OK) == 0;

	/* stderr is not the journal's stream here: the line comes, entry sent or not. */
	log_set_sink(sink, NULL);
	n_lines = 0;
	assert_int_equal(journal_entry(LOG_LVL_WARN, "kmipcrypt", ID, f, 1, "a %s", "b"), journal);
	assert_int_equal(n_lines, 1);
	assert_string_equal(lines[0], "a b");
	assert_int_equal(levels[0], LOG_LVL_WARN);
	/* A caller's bad field: said, and the message still comes as a line; nothing sent. */
	n_lines = 0;
	assert_false(journal_entry(LOG_LVL_INFO, "kmipcrypt", ID,
				   (const struct journal_field[]){ { "bad name", "v" } }, 1, "c"));
	assert_int_equal(n_lines, 2);
	assert_non_null(strstr(lines[0], "a journal entry (MESSAGE_ID " ID ") cannot be made"));
	assert_int_equal(levels[0], LOG_LVL_ERR);
	assert_string_equal(lines[1], "c");

	/*
	 * Only warnings shown (kmipcrypt's default): without a journal the info
	 * line is the record, and comes anyway; with one it waits for -v.  The
	 * level is put back.  Under -q (errors only): no line.
	 */
	log_set_level(LOG_LVL_WARN);
	n_lines = 0;
	journal_entry(LOG_LVL_INFO, "kmipcrypt", ID, f, 1, "rotated");
	assert_int_equal(n_lines, journal ? 0 : 1);
	if (!journal) {
		assert_string_equal(lines[0], "rotated");
		assert_int_equal(levels[0], LOG_LVL_INFO);
	}
	assert_int_equal(log_get_level(), LOG_LVL_WARN);
	log_set_level(LOG_LVL_ERR);
	n_lines = 0;
	journal_entry(LOG_LVL_INFO, "kmipcrypt", ID, f, 1, "rotated");
	assert_int_equal(n_lines, 0);
	assert_int_equal(log_get_level(), LOG_LVL_ERR);
	log_set_level(LOG_LVL_INFO);
	log_set_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_entry_line),
	};

	unsetenv("JOURNAL_STREAM");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
