// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unit tests: util/file (whole files into locked memory).  Log messages
 * are captured with a sink, so that the path they name is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "util/file.h"
#include "util/log.h"
#include "util/secmem.h"

/* ---- log capture --------------------------------------------------- */

#define CAPTURE_MAX 16

static char captured[CAPTURE_MAX][LOG_LINE_MAX];
static enum log_level captured_lvl[CAPTURE_MAX];
static unsigned n_captured;

static void capture_sink(enum log_level lvl, const char *msg, void *ctx)
{
	if (n_captured < CAPTURE_MAX) {
		snprintf(captured[n_captured], sizeof(captured[0]), "%s", msg);
		captured_lvl[n_captured] = lvl;
	}
	n_captured++;
}

/* The only message logged since the last call has needle, at level lvl. */
static void assert_one_logged(enum log_level lvl, const char *needle)
{
	unsigned n = n_captured;

	n_captured = 0;
	if (n == 1 && captured_lvl[0] == lvl && strstr(captured[0], needle))
		return;
	for (unsigned i = 0; i < n && i < CAPTURE_MAX; i++)
		print_message("logged (%d): %s\n", (int)captured_lvl[i], captured[i]);
	fail_msg("expected one message at level %d with \"%s\"", (int)lvl, needle);
}

/* ---- temporary files ----------------------------------------------- */

static char tmpdir[PATH_MAX];
static size_t blocks_before;

static const char *tmp_path(const char *name)
{
	static char buf[PATH_MAX + 64];

	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
	return buf;
}

static const char *write_file(const char *name, const void *data, size_t len)
{
	const char *path = tmp_path(name);
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kmipcrypt-test-file.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	log_set_sink(capture_sink, NULL);
	log_set_level(LOG_LVL_DEBUG);
	n_captured = 0;
	blocks_before = secmem_in_use(NULL);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	log_set_sink(NULL, NULL);
	log_set_level(LOG_LVL_INFO);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return -1;
	/* Every buffer handed out was freed, on success and on error. */
	return secmem_in_use(NULL) == blocks_before ? 0 : -1;
}

/* ---- tests --------------------------------------------------------- */

static void test_regular(void **state)
{
	const char *path = write_file("a", "se\0cret", 7);
	struct stat st;
	struct read_file_opts o = { .regular_only = true, .st = &st };
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(read_file_locked(path, 7, &buf, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(buf, "se\0cret", 8);	/* NUL after the data */
	assert_true(secmem_size(buf) >= len + 1);	/* locked memory */
	secmem_free(buf);

	assert_int_equal(read_file_locked_opts(path, 100, &o, &buf, &len), 0);
	assert_int_equal(len, 7);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 7);
	secmem_free(buf);

	/* An empty file is not an error here: the caller decides. */
	path = write_file("empty", "", 0);
	assert_int_equal(read_file_locked(path, 10, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	secmem_free(buf);
	assert_int_equal(n_captured, 0);
}

static void test_too_big(void **state)
{
	static char big[3 * 4096 + 7];
	const char *path;
	char *buf = NULL;
	size_t len = 0;

	path = write_file("b", "12345678", 8);
	assert_int_equal(read_file_locked(path, 7, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_one_logged(LOG_LVL_ERR, "is larger than 7 bytes");
	assert_int_equal(read_file_locked(path, 0, &buf, &len), -EFBIG);
	assert_one_logged(LOG_LVL_ERR, "is larger than 0 bytes");

	/* Larger than the first guess of a file of unknown size. */
	memset(big, 'x', sizeof(big));
	path = write_file("big", big, sizeof(big));
	assert_int_equal(read_file_locked(path, sizeof(big), &buf, &len), 0);
	assert_int_equal(len, sizeof(big));
	secmem_free(buf);
	assert_int_equal(read_file_locked(path, sizeof(big) - 1, &buf, &len), -EFBIG);
	assert_one_logged(LOG_LVL_ERR, path);
}

static void test_missing(void **state)
{
	const char *path = tmp_path("missing");
	struct read_file_opts quiet = { .quiet_enoent = true };
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(read_file_locked(path, 10, &buf, &len), -ENOENT);
	assert_one_logged(LOG_LVL_ERR, "cannot open");
	assert_int_equal(read_file_locked_opts(path, 10, &quiet, &buf, &len), -ENOENT);
	assert_one_logged(LOG_LVL_DEBUG, path);
	assert_null(buf);
}

static void test_not_regular(void **state)
{
	struct read_file_opts o = { .regular_only = true };
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(read_file_locked_opts(tmpdir, 10, &o, &buf, &len), -EINVAL);
	assert_one_logged(LOG_LVL_ERR, "not a regular file");
	/* Without regular_only, a directory fails when read. */
	assert_int_equal(read_file_locked(tmpdir, 10, &buf, &len), -EISDIR);
	assert_one_logged(LOG_LVL_ERR, "cannot read");
	assert_null(buf);
}

/* Run read_file_locked("-") with stdin a pipe that a child fills with n bytes. */
static int read_stdin(size_t n, size_t max, const char *dash, char **buf, size_t *len)
{
	int p[2], saved, r, status;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (size_t i = 0; i < n; i++)
			if (write(p[1], "y", 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	r = read_file_locked(dash, max, buf, len);
	/* Standard input is not closed by the reader. */
	assert_int_equal(fcntl(STDIN_FILENO, F_GETFD), 0);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return r;
}

static void test_stdin(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	int cwd;

	assert_int_equal(read_stdin(10000, 10000, "-", &buf, &len), 0);
	assert_int_equal(len, 10000);
	assert_int_equal(buf[9999], 'y');
	assert_int_equal(buf[10000], '\0');
	secmem_free(buf);
	buf = NULL;
	assert_int_equal(read_stdin(10001, 10000, "-", &buf, &len), -EFBIG);
	assert_one_logged(LOG_LVL_ERR, "- is larger than 10000 bytes");
	assert_null(buf);

	/* Only with dash_stdin: otherwise "-" is a file name. */
	cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(cwd >= 0);
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(read_file_locked_opts("-", 10, NULL, &buf, &len), -ENOENT);
	assert_one_logged(LOG_LVL_ERR, "cannot open -");
	write_file("-", "dash", 4);
	assert_int_equal(read_file_locked_opts("-", 10, NULL, &buf, &len), 0);
	assert_string_equal(buf, "dash");
	secmem_free(buf);
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_regular),
		T(test_too_big),
		T(test_missing),
		T(test_not_regular),
		T(test_stdin),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
