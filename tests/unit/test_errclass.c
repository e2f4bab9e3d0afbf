// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: util/errclass, the one error taxonomy, over every errno the
 * library returns, and the callers that derive from it: the CLI's
 * exit_code_from_errno() (cli/exitcode.c, compiled in here), the token
 * plugin (-EAGAIN for errclass_no_answer(), a group marked down for
 * errclass_unreachable()) and unlock (errclass_no_answer() names the group;
 * errclass_exit_many() for unlock --all).
 *
 * The list below is the contract: every errno written in src/ (a scan of
 * the tree checks that none is missing here), each with its class, exit
 * status and retry, and every errno the table names is in it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "util/errclass.h"
#include "cli/exitcode.c"	/* the CLI's exit_code_from_errno(), as the CLI links it */

struct want {
	const char *name;	/* as written in src/ */
	int err;		/* positive */
	const char *cls;
	int exit_code;
	bool retry;
};

#define W(e, c, x, r) { #e, e, c, x, r }

static const struct want table[] = {
	/* Nothing answered: the one "try again later" status. */
	W(ECONNREFUSED, "unreachable", 2, true),
	W(ETIMEDOUT, "unreachable", 2, true),
	W(EHOSTUNREACH, "unreachable", 2, true),
	W(ENETUNREACH, "unreachable", 2, true),
	W(ENETDOWN, "unreachable", 2, true),		/* was exit 6 */
	W(EHOSTDOWN, "unreachable", 2, true),
	W(ECONNRESET, "unreachable", 2, true),
	W(ECONNABORTED, "unreachable", 2, true),
	W(EADDRNOTAVAIL, "unreachable", 2, true),
	W(EPIPE, "unreachable", 2, true),		/* was exit 6 */
	W(ENETRESET, "unreachable", 2, true),
	W(EAFNOSUPPORT, "unreachable", 2, true),
	/* An answer, but nothing usable: retry too. */
	W(EBADMSG, "bad-answer", 2, true),		/* was exit 6 */
	W(EPROTO, "bad-answer", 2, true),		/* was exit 6 */
	W(EMSGSIZE, "bad-answer", 2, true),
	W(ELOOP, "bad-answer", 2, true),
	W(ENOMSG, "bad-answer", 2, true),		/* a batch item not answered */
	W(EINPROGRESS, "bad-answer", 2, true),
	W(ENODATA, "bad-answer", 2, true),
	W(ECANCELED, "bad-answer", 2, true),		/* only "Operation Canceled By Requester" */
	W(EAGAIN, "bad-answer", 2, true),
	W(EREMOTEIO, "bad-answer", 2, true),
	W(EOPNOTSUPP, "unsupported", 6, false),
	W(EPROTONOSUPPORT, "unsupported", 6, false),
	W(EKEYREJECTED, "tls", 3, false),
	W(ENOENT, "key", 4, false),
	W(EKEYREVOKED, "key", 4, false),
	W(ENOKEY, "key", 4, false),
	W(EPERM, "key", 4, false),
	W(EKEYMISMATCH, "key", 4, false),
	W(EBADSLT, "key", 4, false),			/* = EKEYMISMATCH */
	W(EKEYEXPIRED, "key", 4, false),
	W(ELUKS, "luks", 5, false),
	W(EMEDIUMTYPE, "luks", 5, false),		/* = ELUKS */
	W(ENOTBLK, "luks", 5, false),
	W(ENODEV, "luks", 5, false),
	W(ENXIO, "luks", 5, false),
	W(EBUSY, "luks", 5, false),
	W(EINVAL, "usage", 1, false),
	W(EACCES, "usage", 1, false),
	W(E2BIG, "usage", 1, false),
	W(ENAMETOOLONG, "usage", 1, false),
	W(ERANGE, "usage", 1, false),
	W(EILSEQ, "usage", 1, false),
	W(ENOTTY, "usage", 1, false),
	W(EISDIR, "usage", 1, false),
	W(ENOTDIR, "usage", 1, false),
	W(EFBIG, "usage", 1, false),
	W(ENOSPC, "usage", 1, false),
	W(EEXIST, "usage", 1, false),
	W(ENOEXEC, "usage", 1, false),
	W(EINTR, "interrupted", 6, false),
	W(ENOMEM, "internal", 6, false),
	W(ENOBUFS, "internal", 6, false),
	W(EMFILE, "internal", 6, false),
	W(ENFILE, "internal", 6, false),
	W(EIO, "internal", 6, false),
	W(EKEKMISMATCH, "internal", 6, false),
	W(EBADE, "internal", 6, false),			/* = EKEKMISMATCH */
	W(ENOANO, "internal", 6, false),
};
#define N_TABLE (sizeof(table) / sizeof(table[0]))

/* Words that look like errnos in src/ but are not ("Dual-EC", "ECDHE-ECDSA", "-EFOO" in a comment). */
static const char *const not_errnos[] = { "EC", "ECDSA", "EFOO" };

static const struct want *find(const char *name)
{
	size_t i;

	for (i = 0; i < N_TABLE; i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}

static void test_table(void **state)
{
	size_t i;

	for (i = 0; i < N_TABLE; i++) {
		const struct want *w = &table[i];
		int r = -w->err;

		if (!errclass_known(r))
			fail_msg("-%s is not classified (it would fall to \"internal\" by default)",
				 w->name);
		if (strcmp(errclass_name(errclass_of(r)), w->cls))
			fail_msg("-%s: class %s, want %s", w->name, errclass_name(errclass_of(r)),
				 w->cls);
		if (errclass_exit(r) != w->exit_code || exit_code_from_errno(r) != w->exit_code)
			fail_msg("-%s: exit %d (CLI %d), want %d", w->name, errclass_exit(r),
				 exit_code_from_errno(r), w->exit_code);
		if (errclass_retry(r) != w->retry)
			fail_msg("-%s: retry %d, want %d", w->name, errclass_retry(r), w->retry);
		assert_non_null(errclass_words(r));
	}
}

/* Every errno the table names is in the list above: nothing classified behind the test's back. */
static void test_table_is_listed(void **state)
{
	size_t i;
	int e;

	for (e = 1; e < 4096; e++) {
		if (!errclass_known(-e))
			continue;
		for (i = 0; i < N_TABLE && table[i].err != e; i++)
			;
		if (i == N_TABLE)
			fail_msg("errno %d (%s) is classified but not in the test's list", e,
				 strerror(e));
	}
}

/* Scan one file for "-EFOO" words; each must be in the list (or not an errno). */
static void scan_file(const char *path, int *missing)
{
	char line[4096], word[64];
	FILE *f = fopen(path, "r");
	unsigned lineno = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *p = line;

		lineno++;
		while ((p = strstr(p, "-E"))) {
			size_t n = 0, i;

			p++;	/* at 'E' */
			while (n + 1 < sizeof(word) && (isupper((unsigned char)p[n]) ||
							isdigit((unsigned char)p[n])))
				word[n] = p[n], n++;
			word[n] = '\0';
			p += n;
			if (n < 2)
				continue;
			for (i = 0; i < sizeof(not_errnos) / sizeof(not_errnos[0]); i++)
				if (!strcmp(word, not_errnos[i]))
					break;
			if (i < sizeof(not_errnos) / sizeof(not_errnos[0]) || find(word))
				continue;
			print_message("%s:%u: -%s is written in src/ but not classified in this "
				      "test (and maybe not in util/errclass.c)\n", path, lineno, word);
			(*missing)++;
		}
	}
	fclose(f);
}

static void scan_dir(const char *dir, int *files, int *missing)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];
	struct stat st;

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			scan_dir(path, files, missing);
		} else if (len > 2 && (!strcmp(de->d_name + len - 2, ".c") ||
				       !strcmp(de->d_name + len - 2, ".h"))) {
			scan_file(path, missing);
			(*files)++;
		}
	}
	closedir(d);
}

/* Every errno written in src/ is in the list (run from the top of the tree: tests/run-unit.sh). */
static void test_every_errno_of_src(void **state)
{
	struct stat st;
	int files = 0, missing = 0;

	if (stat("src/util/errclass.c", &st) != 0)
		fail_msg("run from the top of the source tree (tests/run-unit.sh does)");
	scan_dir("src", &files, &missing);
	assert_true(files > 50);
	assert_int_equal(missing, 0);
}

/* The issue's cases: a down network, a broken pipe, a garbled answer are "try again later" everywhere. */
static void test_issue_cases(void **state)
{
	static const int retry[] = { -ENETDOWN, -EPIPE, -EBADMSG, -EPROTO, -ENOMSG };
	size_t i;

	for (i = 0; i < sizeof(retry) / sizeof(retry[0]); i++) {
		assert_int_equal(exit_code_from_errno(retry[i]), EXIT_UNREACHABLE);
		assert_true(errclass_retry(retry[i]));
		assert_true(errclass_no_answer(retry[i]));	/* plugin: -EAGAIN; unlock: names the group */
	}
	assert_true(errclass_unreachable(-ENETDOWN));
	assert_true(errclass_unreachable(-EPIPE));
	assert_false(errclass_unreachable(-EBADMSG));	/* it answered: the group is not "down" */
	/* A revoked key and a TLS refusal are not retried (DESIGN.md, Boot). */
	assert_false(errclass_retry(-EKEYREVOKED));
	assert_false(errclass_retry(-EKEYREJECTED));
	/* Two meanings, two errnos. */
	assert_int_not_equal(ENOMSG, ECANCELED);
	assert_int_not_equal(EKEKMISMATCH, EBADMSG);
	assert_false(errclass_retry(-EKEKMISMATCH));
	/* The project's errnos collide with nothing else classified. */
	assert_int_equal(errclass_of(-ELUKS), ERRCLASS_LUKS);
	assert_int_equal(errclass_of(-EKEYMISMATCH), ERRCLASS_KEY);
}

/* What the CLI, the token plugin and unlock derive must agree, for every errno. */
static void test_derivations_agree(void **state)
{
	size_t i;

	for (i = 0; i <= N_TABLE; i++) {
		int r = i < N_TABLE ? -table[i].err : 0;
		enum errclass c = errclass_of(r);
		const char *n = i < N_TABLE ? table[i].name : "0";

		assert_int_equal(exit_code_from_errno(r), errclass_exit(r));
		/* One "try again later" status, for exactly the errors a retry may mend. */
		if (errclass_retry(r) != (exit_code_from_errno(r) == EXIT_UNREACHABLE))
			fail_msg("-%s: retry %d but exit %d", n, errclass_retry(r),
				 exit_code_from_errno(r));
		/* A retryable error is never a verdict: the plugin says -EAGAIN, not "refused". */
		if (errclass_retry(r) && !errclass_no_answer(r))
			fail_msg("-%s: retryable but taken as an answer", n);
		/* The plugin marks a group down only when it did not answer at all. */
		if (errclass_unreachable(r) && (!errclass_no_answer(r) || c != ERRCLASS_UNREACHABLE))
			fail_msg("-%s: unreachable but not 'no answer'", n);
		/* A key verdict is final: no -EAGAIN, no retry (the daemon acts on it). */
		if (c == ERRCLASS_KEY && (errclass_no_answer(r) || errclass_retry(r)))
			fail_msg("-%s: a key verdict taken as 'no answer'", n);
		/* TLS is exit 3 and no answer about the key (another token, another KMS). */
		if (c == ERRCLASS_TLS && (exit_code_from_errno(r) != EXIT_TLS || !errclass_no_answer(r)))
			fail_msg("-%s: TLS class inconsistent", n);
	}
	assert_int_equal(exit_code_from_errno(0), EXIT_OK);
	assert_false(errclass_retry(0));
	assert_false(errclass_no_answer(0));
	assert_null(errclass_words(0));
}

/* What nobody classified, and positive values (caller bugs), are internal, not success or retry. */
static void test_defaults(void **state)
{
	assert_false(errclass_known(-ESRCH));
	assert_int_equal(errclass_of(-ESRCH), ERRCLASS_INTERNAL);
	assert_int_equal(exit_code_from_errno(-ESRCH), EXIT_OTHER);
	assert_int_equal(errclass_of(5), ERRCLASS_INTERNAL);
	assert_int_equal(exit_code_from_errno(5), EXIT_OTHER);
	assert_false(errclass_known(5));
	assert_int_equal(errclass_of(-100000), ERRCLASS_INTERNAL);
	assert_string_equal(errclass_name(ERRCLASS_COUNT), "?");
}

static void test_names(void **state)
{
	static const char *const names[ERRCLASS_COUNT] = {
		"ok", "usage", "unreachable", "bad-answer", "unsupported", "tls", "key", "luks",
		"interrupted", "internal",
	};
	int c;

	for (c = 0; c < ERRCLASS_COUNT; c++)
		assert_string_equal(errclass_name((enum errclass)c), names[c]);
}

static void test_words(void **state)
{
	assert_non_null(strstr(errclass_words(-ENETDOWN), "trying again later may help"));
	assert_non_null(strstr(errclass_words(-EBADMSG), "trying again later may help"));
	assert_null(strstr(errclass_words(-EKEYREVOKED), "again"));
	assert_non_null(strstr(errclass_words(-EKEYREJECTED), "ca, cert and key"));
}

/* unlock --all: a volume that may still unlock on a retry keeps the run retryable. */
static void test_exit_many(void **state)
{
	int none[1] = { 0 };
	int ok[] = { 0, 0, 0 };
	int revoked_and_down[] = { -EKEYREVOKED, -ENETDOWN, 0 };
	int down_and_luks[] = { -ETIMEDOUT, -ELUKS };
	int hard[] = { -EKEYREVOKED, -ELUKS, 0 };
	int usage[] = { 0, -EINVAL };
	int bad_answer[] = { -ENOMEM, -EBADMSG };

	assert_int_equal(errclass_exit_many(none, 0), EXIT_OK);
	assert_int_equal(errclass_exit_many(ok, 3), EXIT_OK);
	assert_int_equal(errclass_exit_many(revoked_and_down, 3), EXIT_UNREACHABLE);
	assert_int_equal(errclass_exit_many(down_and_luks, 2), EXIT_UNREACHABLE);
	assert_int_equal(errclass_exit_many(hard, 3), EXIT_LUKS);
	assert_int_equal(errclass_exit_many(usage, 2), EXIT_USAGE);
	assert_int_equal(errclass_exit_many(bad_answer, 2), EXIT_UNREACHABLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_is_listed),
		cmocka_unit_test(test_every_errno_of_src),
		cmocka_unit_test(test_issue_cases),
		cmocka_unit_test(test_derivations_agree),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_exit_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
