/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmipcrypt ttlv: look at and convert KMIP messages offline.
 *
 * This file is the program kmipcrypt-ttlv, which `kmipcrypt ttlv` runs in
 * its place (src/cli/main.c): the XML form needs libxml2, and with it ICU and
 * libstdc++, which the kmipcrypt that unlocks volumes must not load.  It
 * links the core library and the TTLV tools library (Makefile).
 *
 *   kmipcrypt ttlv dump [--show-secrets] [--hex|--binary] [FILE|-]
 *   kmipcrypt ttlv convert [--from xml|ttlv|hex] --to xml|ttlv|hex|text
 *                          [--now EPOCH] [--show-secrets] [-o OUT] FILE|-
 *   kmipcrypt ttlv encode [--now EPOCH] [-o OUT] FILE|-
 *
 * Input holds one message or several: TTLV messages back to back (binary,
 * or hex with any white space), or a KMIP XML document (a <KMIP> element
 * holding messages, as the OASIS test cases, or one message element).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "ttlv/text.h"
#include "ttlv/ttlv.h"
#include "ttlv/xml.h"
#include "util/file.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

/* Input files are read whole into locked memory: keep the cap modest. */
#define TTLV_CLI_MAX_INPUT	(4u * 1024u * 1024u)

enum fmt { FMT_AUTO, FMT_XML, FMT_TTLV, FMT_HEX, FMT_TEXT };

static const char *fmt_name(enum fmt f)
{
	switch (f) {
	case FMT_XML:
		return "xml";
	case FMT_TTLV:
		return "ttlv";
	case FMT_HEX:
		return "hex";
	case FMT_TEXT:
		return "text";
	default:
		return "auto";
	}
}

static int parse_fmt(const char *s, bool output, enum fmt *f)
{
	if (!strcmp(s, "xml"))
		*f = FMT_XML;
	else if (!strcmp(s, "ttlv") || !strcmp(s, "binary"))
		*f = FMT_TTLV;
	else if (!strcmp(s, "hex"))
		*f = FMT_HEX;
	else if (output && !strcmp(s, "text"))
		*f = FMT_TEXT;
	else
		return -EINVAL;
	return 0;
}

/* Parse errors in the input are the user's: exit 1.  The rest: exit 6. */
static int exit_for(int r)
{
	switch (r) {
	case 0:
		return EXIT_OK;
	case -EINVAL:
	case -EBADMSG:
	case -EMSGSIZE:
	case -ELOOP:
	case -ENOENT:
	case -EFBIG:
	case -EISDIR:
	case -EACCES:
	case -EILSEQ:
		return EXIT_USAGE;
	default:
		return EXIT_OTHER;
	}
}

/* ---------------------------------------------------------------- input */

/* A message that did not decode: its bytes (locked memory) and why. */
struct damaged {
	bool present;
	unsigned index;		/* 1 for the first message of the input */
	size_t offset;		/* where it starts in the (hex-decoded) input */
	bool hex;
	uint8_t *buf;
	size_t len;
	struct ttlv_error e;
};

static void damaged_free(struct damaged *d)
{
	secmem_free(d->buf);
	memset(d, 0, sizeof(*d));
}

/* "FILE: message 2 (byte 176 of the input): <where and why>". */
static void damaged_report(const char *name, const struct damaged *d)
{
	char why[TTLV_ERROR_TEXT];

	log_error("%s: message %u (byte %zu of the %sinput) is not valid TTLV: %s", name,
		  d->index, d->offset, d->hex ? "hex-decoded " : "",
		  ttlv_error_format(&d->e, why, sizeof(why)));
}

/*
 * Split back-to-back TTLV messages into the list, checking each.  Each
 * header says how long its message is; a header that says nothing usable,
 * or a message cut short, goes to the decoder with every byte that is left,
 * so that it says where and why, and how much of it can be shown (*dmg).
 */
static int split_ttlv(const char *name, const uint8_t *buf, size_t len, bool hex,
		      struct ttlv_msgs *out, struct damaged *dmg)
{
	struct ttlv_limits lim = { .max_len = TTLV_XML_MAX_MESSAGE, .max_depth = TTLV_MAX_DEPTH };
	struct ttlv_item root;
	size_t off = 0, chunk, total;
	unsigned k = 0;
	int r;

	if (len == 0)
		return log_error_errno(-EINVAL, "%s: no message", name);
	while (off < len) {
		chunk = len - off;
		if (chunk >= TTLV_HEADER_LEN && ttlv_frame_len(buf + off, SIZE_MAX, &total) == 0 &&
		    total < chunk)
			chunk = total;
		r = ttlv_decode_detail(buf + off, chunk, &lim, &root, &dmg->e);
		if (r < 0) {
			dmg->present = true;
			dmg->index = k + 1;
			dmg->offset = off;
			dmg->hex = hex;
			dmg->len = chunk;
			dmg->buf = secmem_dup(buf + off, chunk);
			if (!dmg->buf)
				return -ENOMEM;
			return r;
		}
		r = ttlv_msgs_add(out, buf + off, chunk, TTLV_XML_MAX_MESSAGE);
		if (r < 0)
			return log_error_errno(r, "%s: message %u: %s", name, k + 1, strerror(-r));
		off += chunk;
		k++;
	}
	return 0;
}

static enum fmt guess(const uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i < len && buf[i] == '<')
		return FMT_XML;
	/* Binary TTLV always has NUL bytes (the length's high bytes): never all hex. */
	if (ttlv_hex_looks_like(buf, len))
		return FMT_HEX;
	return FMT_TTLV;
}

static int read_messages(const char *path, enum fmt from, int64_t now, struct ttlv_msgs *out,
			 struct damaged *dmg)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	struct ttlv_xml_opts xo = { .now = now };
	uint8_t *in = NULL, *bin = NULL;
	char *text = NULL;
	size_t len = 0, n;
	int r;

	r = read_file_locked(path, TTLV_CLI_MAX_INPUT, &text, &len);
	in = (uint8_t *)text;
	if (r < 0)
		goto out;
	if (len == 0) {
		r = log_error_errno(-EINVAL, "%s is empty", path);
		goto out;
	}
	if (from == FMT_AUTO)
		from = guess(in, len);
	switch (from) {
	case FMT_XML:
		r = ttlv_xml_parse((const char *)in, len, name, &xo, out);
		break;
	case FMT_TTLV:
		r = split_ttlv(name, in, len, false, out, dmg);
		break;
	case FMT_HEX:
		bin = secmem_alloc(len / 2 + 1);
		if (!bin) {
			r = -ENOMEM;
			break;
		}
		r = ttlv_hex_read((const char *)in, len, bin, len / 2 + 1, &n);
		if (r < 0) {
			r = log_error_errno(r, "%s: not hex (hex digits in pairs, white space "
					    "between them)", name);
			break;
		}
		r = split_ttlv(name, bin, n, true, out, dmg);
		break;
	default:
		r = -EINVAL;
		break;
	}
out:
	secmem_free(bin);
	secmem_free(in);
	return r;
}

/* --------------------------------------------------------------- output */

/*
 * Is st the file already open as standard output (same device and inode)?
 * Then "-o /dev/stdout", "-o /proc/self/fd/1" or "-o $(tty)" mean "-".
 */
static bool is_stdout(const struct stat *st)
{
	struct stat out;

	return fstat(STDOUT_FILENO, &out) == 0 && out.st_dev == st->st_dev &&
	       out.st_ino == st->st_ino;
}

static int not_regular_output(const char *path, const struct stat *st)
{
	return log_error_errno(-EINVAL, "cannot write %s: it is %s, not a regular file; give "
			       "-o - (or no -o) to write standard output, and redirect that", path,
			       file_kind(st->st_mode));
}

/*
 * The output: standard output for "-" (or none), else a regular file,
 * created if missing.  An existing file that is not regular is refused
 * without opening it: the open() of a FIFO for writing waits for a reader
 * for ever, and opening a device can do anything.  Two exceptions, what
 * users name to mean them: the file that already is our standard output
 * (/dev/stdout, whatever it is), for which nothing is opened and standard
 * output is used, as for "-"; and the null device (-o /dev/null: check the
 * conversion, keep nothing), which cannot block.  The open itself
 * is O_NONBLOCK, in case a FIFO appears after the stat() (it then fails
 * with ENXIO or is refused by the fstat() of what was opened).
 */
static int open_output(const char *path, FILE **f)
{
	struct stat st;
	int fd = -1, fl, r;

	*f = NULL;
	if (!path || !strcmp(path, "-")) {
		*f = stdout;
		return 0;
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (is_stdout(&st)) {
			*f = stdout;
			return 0;
		}
		if (!file_is_null(&st))
			return not_regular_output(path, &st);
	}
	/* Messages may carry key material: not readable by others. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0) {
		r = log_error_errno(-errno, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = log_error_errno(-errno, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !file_is_null(&st)) {
		r = not_regular_output(path, &st);
		goto out;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		r = log_error_errno(-errno, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	*f = fdopen(fd, "w");
	if (!*f) {
		r = log_error_errno(-errno, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;	/* the stream's now */
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static int close_output(FILE *f, const char *path)
{
	int r = 0;

	if (fflush(f) != 0 || ferror(f))
		r = -EIO;
	if (f != stdout && fclose(f) != 0 && !r)
		r = -EIO;
	if (r < 0)
		log_error("cannot write %s", path && strcmp(path, "-") ? path : "standard output");
	return r;
}

static int write_messages(FILE *f, const struct ttlv_msgs *l, enum fmt to, bool show_secrets)
{
	size_t i;
	int r = 0;

	if (to == FMT_XML && l->n > 1)
		fputs("<KMIP>\n", f);
	for (i = 0; i < l->n && r == 0; i++) {
		const struct ttlv_buf *m = &l->msg[i];

		switch (to) {
		case FMT_TTLV:
			if (fwrite(m->data, 1, m->len, f) != m->len)
				r = -EIO;
			break;
		case FMT_HEX:
			hex_fput(f, m->data, m->len);
			fputc('\n', f);
			break;
		case FMT_XML:
			if (l->n > 1)
				fputc('\n', f);
			r = ttlv_xml_write(f, m->data, m->len, l->n > 1 ? 1 : 0);
			if (r == -EILSEQ)
				log_error("message %zu: a Text String holds a character that XML "
					  "cannot carry", i + 1);
			break;
		case FMT_TEXT:
			if (i)
				fputc('\n', f);
			r = ttlv_text_dump(f, m->data, m->len, TTLV_XML_MAX_MESSAGE, show_secrets,
					   NULL);
			break;
		default:
			r = -EINVAL;
			break;
		}
	}
	if (r == 0 && to == FMT_XML && l->n > 1)
		fputs("\n</KMIP>\n", f);
	return r;
}

/* ------------------------------------------------------------- commands */

static void usage_dump(FILE *f)
{
	fprintf(f,
		"Usage: kmipcrypt ttlv dump [--show-secrets] [--hex|--binary] [FILE|-]\n\n"
		"Print KMIP messages (TTLV, binary or hex) as indented text: tags,\n"
		"enumerations and mask flags by name, dates in ISO 8601, bytes in hex.\n"
		"FILE may hold several messages back to back; default: standard input.\n"
		"A message that is not valid TTLV is printed as far as it could be\n"
		"checked; the error says at which byte, in which item, and why (exit 1).\n\n"
		"  --show-secrets  print key material, Secret Data, passwords and Data\n"
		"                  instead of <redacted, N bytes>\n"
		"  --hex           the input is hex (white space allowed)\n"
		"  --binary        the input is binary TTLV\n"
		"                  (default: hex if the input is only hex digits and spaces)\n"
		"  -h, --help      this help\n");
}

static void usage_convert(FILE *f)
{
	fprintf(f,
		"Usage: kmipcrypt ttlv convert [--from xml|ttlv|hex] --to xml|ttlv|hex|text\n"
		"                              [--now EPOCH] [--show-secrets] [-o OUT] FILE|-\n\n"
		"Convert KMIP messages, one by one, between binary TTLV, hex, and the KMIP XML\n"
		"encoding of the OASIS test cases.  TTLV output is the messages back to back;\n"
		"hex output is one message per line; XML output of several messages is a\n"
		"<KMIP> document; text is the dump of 'kmipcrypt ttlv dump'.\n\n"
		"  --from FORMAT     input format (default: guessed from the content)\n"
		"  --to FORMAT       output format\n"
		"  --now EPOCH       POSIX time that $NOW, $NOW-3600, ... in XML Date-Times\n"
		"                    stand for (default: the current time)\n"
		"  --show-secrets    with --to text: do not redact key material\n"
		"  -o, --output OUT  write to OUT, a regular file (created mode 0600), instead of\n"
		"                    standard output\n"
		"  -h, --help        this help\n");
}

static void usage_encode(FILE *f)
{
	fprintf(f,
		"Usage: kmipcrypt ttlv encode [--now EPOCH] [-o OUT] FILE|-\n\n"
		"Encode KMIP XML into binary TTLV (kmipcrypt ttlv convert --from xml --to ttlv).\n\n"
		"  --now EPOCH       POSIX time for $NOW placeholders (default: now)\n"
		"  -o, --output OUT  write to OUT, a regular file (created mode 0600), instead of\n"
		"                    standard output\n"
		"  -h, --help        this help\n");
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kmipcrypt ttlv COMMAND [OPTIONS] [FILE]\n\n"
		"Decode, encode and convert KMIP messages offline (no server involved).\n\n"
		"Commands:\n"
		"  dump     print TTLV messages as indented text, key material redacted\n"
		"  convert  convert between TTLV, hex, KMIP XML and text\n"
		"  encode   KMIP XML to TTLV (convert --from xml --to ttlv)\n\n"
		"'kmipcrypt ttlv COMMAND --help' describes a command.\n");
}

static int parse_now(const char *s, int64_t *now)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || (*s != '-' && (*s < '0' || *s > '9')))
		return -EINVAL;
	*now = v;
	return 0;
}

struct conv {
	enum fmt from, to;
	int64_t now;
	bool show_secrets;
	const char *out;
	const char *in;
};

/*
 * A message that does not decode is reported with where and why.  As text
 * (dump, --to text) the messages before it are written, then it as far as
 * it was checked; the other formats write nothing rather than a part.
 */
static int run(const struct conv *c)
{
	const char *name = strcmp(c->in, "-") ? c->in : "<stdin>";
	struct damaged dmg = { 0 };
	struct ttlv_msgs l;
	FILE *f = NULL;
	int r, w;

	ttlv_msgs_init(&l);
	r = read_messages(c->in, c->from, c->now, &l, &dmg);
	if (r < 0 && (!dmg.present || c->to != FMT_TEXT))
		goto out;
	if (c->to == FMT_TTLV && (!c->out || !strcmp(c->out, "-")) && isatty(STDOUT_FILENO)) {
		r = log_error_errno(-EINVAL, "not writing binary TTLV to a terminal; "
				    "use -o FILE, --to hex, or a pipe");
		goto out;
	}
	w = open_output(c->out, &f);
	if (w < 0) {
		r = w;
		goto out;
	}
	w = write_messages(f, &l, c->to, c->show_secrets);
	if (w == 0 && dmg.present) {
		if (l.n)
			fputc('\n', f);
		w = ttlv_text_dump(f, dmg.buf, dmg.len, TTLV_XML_MAX_MESSAGE, c->show_secrets, NULL);
		if (w == dmg.e.err)
			w = 0;	/* the dump of the checked part went out */
	}
	if (w < 0) {
		close_output(f, c->out);
		r = w;
		goto out;
	}
	w = close_output(f, c->out);
	if (w < 0)
		r = w;
out:
	if (dmg.present)
		damaged_report(name, &dmg);
	damaged_free(&dmg);
	ttlv_msgs_free(&l);
	return exit_for(r);
}

enum { OPT_SHOW = 0x100, OPT_HEX, OPT_BINARY, OPT_FROM, OPT_TO, OPT_NOW };

static int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "show-secrets", no_argument, NULL, OPT_SHOW },
		{ "hex",          no_argument, NULL, OPT_HEX },
		{ "binary",       no_argument, NULL, OPT_BINARY },
		{ "help",         no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct conv c = { .from = FMT_AUTO, .to = FMT_TEXT, .in = "-", .now = (int64_t)time(NULL) };
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case OPT_SHOW:
			c.show_secrets = true;
			break;
		case OPT_HEX:
			c.from = FMT_HEX;
			break;
		case OPT_BINARY:
			c.from = FMT_TTLV;
			break;
		case 'h':
			usage_dump(stdout);
			return EXIT_OK;
		default:
			usage_dump(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		usage_dump(stderr);
		return EXIT_USAGE;
	}
	if (optind < argc)
		c.in = argv[optind];
	return run(&c);
}

static int cmd_convert(int argc, char **argv, bool encode)
{
	static const struct option opts[] = {
		{ "from",         required_argument, NULL, OPT_FROM },
		{ "to",           required_argument, NULL, OPT_TO },
		{ "now",          required_argument, NULL, OPT_NOW },
		{ "show-secrets", no_argument,       NULL, OPT_SHOW },
		{ "output",       required_argument, NULL, 'o' },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct option enc_opts[] = {
		{ "now",          required_argument, NULL, OPT_NOW },
		{ "output",       required_argument, NULL, 'o' },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	void (*help)(FILE *) = encode ? usage_encode : usage_convert;
	struct conv c = { .from = FMT_AUTO, .to = FMT_AUTO, .now = (int64_t)time(NULL) };
	int o;

	if (encode) {
		c.from = FMT_XML;
		c.to = FMT_TTLV;
	}
	optind = 0;
	while ((o = getopt_long(argc, argv, "o:h", encode ? enc_opts : opts, NULL)) != -1) {
		switch (o) {
		case OPT_FROM:
			if (parse_fmt(optarg, false, &c.from) < 0) {
				log_error("--from: \"%s\" is not xml, ttlv or hex", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_TO:
			if (parse_fmt(optarg, true, &c.to) < 0) {
				log_error("--to: \"%s\" is not xml, ttlv, hex or text", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_NOW:
			if (parse_now(optarg, &c.now) < 0) {
				log_error("--now: \"%s\" is not a POSIX time in seconds", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_SHOW:
			c.show_secrets = true;
			break;
		case 'o':
			c.out = optarg;
			break;
		case 'h':
			help(stdout);
			return EXIT_OK;
		default:
			help(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		log_error("%s", argc - optind ? "one input FILE (or - for standard input)"
			  : "no input FILE given (- for standard input)");
		help(stderr);
		return EXIT_USAGE;
	}
	if (c.to == FMT_AUTO) {
		log_error("--to xml|ttlv|hex|text is required");
		help(stderr);
		return EXIT_USAGE;
	}
	if (c.show_secrets && c.to != FMT_TEXT)
		log_warn("--show-secrets only changes --to text (%s output is never redacted)",
			 fmt_name(c.to));
	c.in = argv[optind];
	return run(&c);
}

int cmd_ttlv(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "convert"))
		return cmd_convert(argc - 1, argv + 1, false);
	if (!strcmp(argv[1], "encode"))
		return cmd_convert(argc - 1, argv + 1, true);
	log_error("unknown command 'ttlv %s'; 'kmipcrypt ttlv --help' lists them", argv[1]);
	return EXIT_USAGE;
}

/*
 *   kmipcrypt-ttlv [-q | -v [-v]] [--] COMMAND [ARGS...]
 * as kmipcrypt runs it: the log level of its global options, "--", then the
 * words after "ttlv".  Its messages carry kmipcrypt's name: to the user, this
 * is `kmipcrypt ttlv`.
 */
int main(int argc, char **argv)
{
	enum log_level lvl = LOG_LVL_WARN;
	int i;

	log_set_ident("kmipcrypt");
	/* Secrets of the messages pass through this process (--show-secrets). */
	if (secmem_harden_process() < 0)
		log_warn("cannot make the process non-dumpable; continuing");
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q")) {
			lvl = LOG_LVL_ERR;
		} else if (!strcmp(argv[i], "-v")) {
			lvl = lvl == LOG_LVL_WARN ? LOG_LVL_INFO : LOG_LVL_DEBUG;
		} else {
			if (!strcmp(argv[i], "--"))
				i++;
			break;
		}
	}
	log_set_level(lvl);
	/* cmd_ttlv() takes "ttlv" as its argv[0], as in kmipcrypt. */
	argv[i - 1] = (char *)"ttlv";
	return cmd_ttlv(argc - i + 1, argv + i - 1);
}
