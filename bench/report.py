#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Markdown table of timed samples, for bench/latency.sh and bench/unlock.sh.

    report.py RAW --title T --base KEY --row KEY=LABEL... [--ratio-head H] [--note TEXT]...

RAW has one sample per line, "KEY MICROSECONDS", plus "rss NAME KIB" (peak
RSS, /usr/bin/time) and "meta NAME VALUE" lines (date, commit, cpu, load).
Each row: median and min-max in milliseconds, and the median's ratio to the
base row's.  Rows without samples are left out.  Notes may use
{rss=NAME} (KiB, with thousands separators), {med=KEY} (ms),
{ratio=KEY/KEY} and {expr=EXPR}: + - * / and parentheses over numbers,
medians by key (keys without '-') and ncpu ("meta ncpu N"), to two decimals;
{meta=NAME} a meta value.
"""
import argparse
import ast
import operator
import statistics


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw")
    ap.add_argument("--title", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--row", action="append", default=[])
    ap.add_argument("--ratio-head", default=None)
    ap.add_argument("--what", default="Milliseconds per sample")
    ap.add_argument("--note", action="append", default=[])
    a = ap.parse_args()

    s, rss, meta = {}, {}, {}
    for line in open(a.raw):
        w = line.split()
        if not w:
            continue
        if w[0] == "meta":
            meta[w[1]] = " ".join(w[2:])
        elif w[0] == "rss":
            rss[w[1]] = int(w[2])
        else:
            s.setdefault(w[0], []).append(int(w[1]) / 1000.0)

    def med(k):
        return statistics.median(s[k]) if k in s else None

    base = med(a.base)
    print("## %s\n" % a.title)
    print("%s, commit %s, %s, load %s at the end.  %s; median over the samples, "
          "range = min-max.\n" % (meta.get("date"), meta.get("commit"), meta.get("cpu"),
                                  meta.get("load"), a.what))
    print("| row | samples | median ms | range ms | %s |" % (a.ratio_head or "/ " + a.base))
    print("|---|---:|---:|---:|---:|")
    for spec in a.row:
        k, label = spec.split("=", 1)
        if k not in s:
            continue
        m = med(k)
        print("| %s | %d | %.2f | %.2f-%.2f | %s |" % (
            label, len(s[k]), m, min(s[k]), max(s[k]), "%.2fx" % (m / base) if base else "-"))
    print()

    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv}

    def value(n):
        if isinstance(n, ast.BinOp) and type(n.op) in ops:
            return ops[type(n.op)](value(n.left), value(n.right))
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)):
            return n.value
        if isinstance(n, ast.Name) and n.id == "ncpu" and "ncpu" in meta:
            return int(meta["ncpu"])
        if isinstance(n, ast.Name) and n.id in s:
            return med(n.id)
        raise KeyError(ast.dump(n))

    def expr(text):
        try:
            return "%.2f" % value(ast.parse(text, mode="eval").body)
        except (KeyError, SyntaxError, ZeroDivisionError):
            return "?"

    class Fields(dict):
        def __missing__(self, key):
            kind, _, name = key.partition("=")
            if kind == "rss":
                return "{:,}".format(rss[name]) if name in rss else "?"
            if kind == "med":
                return "%.1f" % med(name) if name in s else "?"
            if kind == "meta":
                return meta.get(name, "?")
            if kind == "expr":
                return expr(name)
            if kind == "ratio":
                x, _, y = name.partition("/")
                return "%.2f" % (med(x) / med(y)) if x in s and y in s else "?"
            return "?"
    for n in a.note:
        print(n.format_map(Fields()))


if __name__ == "__main__":
    main()
