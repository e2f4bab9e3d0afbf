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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
	struct read_file_opts o = { .st = &st };
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

/*
 * A named file that is not a regular file is refused at once, saying what
 * it is: never opened blocking (a FIFO without a writer would block the
 * open for ever, one with a writer that never closes the read), never read.
 * alarm() turns a hang into a failure instead of a stuck test.
 */
static void test_not_regular(void **state)
{
	struct read_file_opts where = { .where = "conf:3: [default] ca", .hint = "name one file" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char fifo[PATH_MAX + 64], sock[PATH_MAX + 64], *buf = NULL;
	size_t len = 0;
	int fd, wfd;

	snprintf(fifo, sizeof(fifo), "%s", tmp_path("fifo"));	/* tmp_path() reuses its buffer */
	snprintf(sock, sizeof(sock), "%s", tmp_path("sock"));
	alarm(10);
	assert_int_equal(read_file_locked(tmpdir, 10, &buf, &len), -EISDIR);
	assert_one_logged(LOG_LVL_ERR, "is a directory, not a regular file");
	assert_int_equal(read_file_locked_opts(tmpdir, 10, &where, &buf, &len), -EISDIR);
	assert_one_logged(LOG_LVL_ERR, "conf:3: [default] ca: ");
	assert_int_equal(read_file_locked_opts(tmpdir, 10, &where, &buf, &len), -EISDIR);
	assert_one_logged(LOG_LVL_ERR, "a directory, not a regular file; name one file");

	/* A FIFO nobody writes to: the open would block for ever. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(read_file_locked_opts(fifo, 10, NULL, &buf, &len), -EINVAL);
	assert_one_logged(LOG_LVL_ERR, "fifo is a FIFO (named pipe), not a regular file");
	/* Where "-" is standard input, the message says so. */
	assert_int_equal(read_file_locked(fifo, 10, &buf, &len), -EINVAL);
	assert_one_logged(LOG_LVL_ERR, "not a regular file; give - to read standard input");
	/* One with a writer that never writes nor closes: a read would block for ever. */
	wfd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(wfd >= 0);
	assert_int_equal(read_file_locked_opts(fifo, 10, NULL, &buf, &len), -EINVAL);
	assert_one_logged(LOG_LVL_ERR, "a FIFO");
	close(wfd);
	/* A symbolic link to it is the FIFO. */
	assert_int_equal(symlink(fifo, tmp_path("link")), 0);
	assert_int_equal(read_file_locked_opts(tmp_path("link"), 10, NULL, &buf, &len), -EINVAL);
	assert_one_logged(LOG_LVL_ERR, "a FIFO");

	/* A character device that never ends, and one that is empty. */
	assert_int_equal(read_file_locked_opts("/dev/zero", 10, NULL, &buf, &len), -EINVAL);
	assert_one_logged(LOG_LVL_ERR, "/dev/zero is a character device");
	assert_int_equal(read_file_locked_opts("/dev/null", 10, NULL, &buf, &len), -EINVAL);
	assert_one_logged(LOG_LVL_ERR, "a character device");

	/* A socket. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_true(strlen(sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(read_file_locked_opts(sock, 10, NULL, &buf, &len), -EINVAL);
	assert_one_logged(LOG_LVL_ERR, "is a socket");
	close(fd);
	alarm(0);
	assert_null(buf);

	/* A symbolic link to a regular file is followed. */
	write_file("target", "abc", 3);
	assert_int_equal(symlink("target", tmp_path("link2")), 0);
	assert_int_equal(read_file_locked_opts(tmp_path("link2"), 10, NULL, &buf, &len), 0);
	assert_string_equal(buf, "abc");
	secmem_free(buf);
	assert_int_equal(n_captured, 0);
}

/* Secret files: for their owner only, as OpenSSH wants private keys. */
static void test_secret(void **state)
{
	struct read_file_opts o = { .secret = true, .where = "conf:5: [default] key" };
	const char *path = write_file("key", "PRIVATE", 7);
	static const struct { mode_t mode; const char *who; } bad[] = {
		{ 0644, "its group and other users" }, { 0640, "its group" },
		{ 0604, "other users" }, { 0620, "its group" }, { 0602, "other users" },
		{ 0610, "its group" },
	};
	char needle[PATH_MAX + 64];
	struct stat st;
	char *buf = NULL;
	size_t len = 0, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(path, bad[i].mode), 0);
		assert_int_equal(read_file_locked_opts(path, 100, &o, &buf, &len), -EACCES);
		assert_null(buf);
		snprintf(needle, sizeof(needle), "conf:5: [default] key: %s: mode %04o gives %s "
			 "access, and a secret must not be accessible to others: run 'chmod 600 %s'",
			 path, (unsigned)bad[i].mode, bad[i].who, path);
		assert_one_logged(LOG_LVL_ERR, needle);
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(chmod(path, i ? 0400 : 0600), 0);
		assert_int_equal(read_file_locked_opts(path, 100, &o, &buf, &len), 0);
		assert_string_equal(buf, "PRIVATE");
		secmem_free(buf);
		buf = NULL;
	}
	assert_int_equal(n_captured, 0);
	/* Not a secret: any mode. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(read_file_locked_opts(path, 100, NULL, &buf, &len), 0);
	secmem_free(buf);
	buf = NULL;

	/* Owned by another user (not root, not us): that user can read and replace it. */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(stat(path, &st), 0);
	st.st_uid = geteuid() + 1;
	if (st.st_uid == 0)
		st.st_uid = 1;
	assert_int_equal(file_check_secret(path, &st, NULL), -EACCES);
	snprintf(needle, sizeof(needle), "%s: owned by uid %u, neither root nor this user",
		 path, (unsigned)st.st_uid);
	assert_one_logged(LOG_LVL_ERR, needle);
	st.st_uid = 0;
	assert_int_equal(file_check_secret(path, &st, NULL), 0);
	st.st_uid = geteuid();
	assert_int_equal(file_check_secret(path, &st, NULL), 0);
	if (geteuid() == 0) {
		/* The same through the reader, on a file really owned by someone else. */
		assert_int_equal(chown(path, 4242, (gid_t)-1), 0);
		assert_int_equal(read_file_locked_opts(path, 100, &o, &buf, &len), -EACCES);
		assert_one_logged(LOG_LVL_ERR, "owned by uid 4242");
		assert_null(buf);
	}
	/* Standard input is the user's choice: no check. */
	assert_int_equal(n_captured, 0);
}

/* Line by line: the same refusals, without blocking; a regular file is a stream. */
static void test_fopen(void **state)
{
	struct read_file_opts o = { .where = "--from", .quiet_enoent = true };
	char fifo[PATH_MAX + 64], line[16];
	FILE *f;

	snprintf(fifo, sizeof(fifo), "%s", tmp_path("fifo"));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(10);
	errno = 0;
	assert_null(file_fopen(fifo, 100, &o));
	alarm(0);
	assert_int_equal(errno, EINVAL);
	assert_one_logged(LOG_LVL_ERR, "--from: ");
	assert_null(file_fopen(tmpdir, 100, NULL));
	assert_int_equal(errno, EISDIR);
	assert_one_logged(LOG_LVL_ERR, "is a directory");
	assert_null(file_fopen(tmp_path("none"), 100, &o));
	assert_int_equal(errno, ENOENT);
	assert_one_logged(LOG_LVL_DEBUG, "none");
	write_file("list", "a\nb\n", 4);
	assert_null(file_fopen(tmp_path("list"), 3, NULL));
	assert_int_equal(errno, EFBIG);
	assert_one_logged(LOG_LVL_ERR, "larger than 3 bytes");
	f = file_fopen(tmp_path("list"), 4, NULL);
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "a\n");
	assert_int_equal(fcntl(fileno(f), F_GETFL) & O_NONBLOCK, 0);
	assert_true(fcntl(fileno(f), F_GETFD) & FD_CLOEXEC);
	fclose(f);
	assert_int_equal(n_captured, 0);
}

static void test_kind(void **state)
{
	assert_string_equal(file_kind(S_IFREG | 0600), "a regular file");
	assert_string_equal(file_kind(S_IFDIR | 0700), "a directory");
	assert_string_equal(file_kind(S_IFIFO | 0600), "a FIFO (named pipe)");
	assert_string_equal(file_kind(S_IFSOCK | 0600), "a socket");
	assert_string_equal(file_kind(S_IFCHR | 0600), "a character device");
	assert_string_equal(file_kind(S_IFBLK | 0600), "a block device");
	assert_string_equal(file_kind(S_IFLNK | 0600), "not a regular file");
}

/* The null device is known by what it is (1:3), not by its name; nothing else is it. */
static void test_is_null(void **state)
{
	struct stat st;

	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(file_is_null(&st));
	assert_int_equal(stat("/dev/zero", &st), 0);
	assert_false(file_is_null(&st));
	assert_int_equal(stat(tmpdir, &st), 0);
	assert_false(file_is_null(&st));
	assert_int_equal(mkfifo(tmp_path("fifo-null"), 0600), 0);
	assert_int_equal(stat(tmp_path("fifo-null"), &st), 0);
	assert_false(file_is_null(&st));
	assert_int_equal(unlink(tmp_path("fifo-null")), 0);
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
		T(test_secret),
		T(test_fopen),
		T(test_kind),
		T(test_is_null),
		T(test_stdin),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
