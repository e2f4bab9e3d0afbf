#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Generate src/ttlv/names_table.c from the KMIP specification texts.

Extracts every tag, every enumeration and every bit mask (name -> value)
from the box-drawn tables of KMIP 1.4 (section 9.1.3) and KMIP 2.1
(sections 11 and 12), merges both versions (a value named differently in
1.4 and 2.1 keeps both names; the 2.1 name is canonical), works out which
tag carries which enumeration, and writes sorted C tables for binary search.

XML/JSON spellings follow the normalization rule of the KMIP Profiles,
except where the OASIS test cases spell a name otherwise (XML_EXCEPTIONS:
HMAC_SHA256, the rule's HMACSHA256); the rule's spelling is kept as an
alias that is read, never written.  The notes on stderr list every value
whose spellings differ (between 1.4 and 2.1, or from the rule).

Usage: src/ttlv/gen-names.py [--spec-dir DIR] [--out FILE] [--check]
  --check   do not write; exit 1 if the committed file differs.
Prints the counts it extracted (per version and merged) on stderr.
"""

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

HEADING = re.compile(r'^(\d+(?:\.\d+)*)\s+(\S.*?)\s*$')
HEXVAL = re.compile(r'^(?:0x)?([0-9A-Fa-f]{6,8})(?:\s|$)')
RANGE = re.compile(r'[0-9A-Fa-fX]+\s*[-\u2013]\s*[0-9A-Fa-fX]+')


def die(msg):
    sys.stderr.write('gen-names: %s\n' % msg)
    sys.exit(1)


def join_fragments(frags):
    """Join the lines of one table cell; a line ending in '-' continues a word."""
    out = ''
    for f in frags:
        f = f.strip()
        if not f:
            continue
        if not out:
            out = f
        elif out.endswith('-') and not out.endswith(' -'):
            out += f
        else:
            out += ' ' + f
    return re.sub(r'\s+', ' ', out).strip()


def parse_tables(lines, start, end, strict=True):
    """Yield (heading, rows) for each box table in lines[start:end].

    rows: list of rows, each a list of cell texts.  heading: the nearest
    preceding numbered section heading (number, title)."""
    heading = None
    i = start
    while i < end:
        s = lines[i].strip()
        m = HEADING.match(lines[i])
        if m and not s.startswith('\u2502'):
            heading = (m.group(1), m.group(2))
        if s.startswith('\u250c'):
            rows = []
            cur = None
            ragged = 0
            i += 1
            while i < end:
                s = lines[i].strip()
                if s.startswith('\u2514'):
                    break
                if s.startswith('\u251c'):
                    if cur is not None:
                        rows.append(cur)
                    cur = None
                elif s.startswith('\u2502'):
                    cells = s.strip('\u2502').split('\u2502')
                    if cur is None:
                        cur = [[] for _ in cells]
                    if len(cells) != len(cur):
                        ragged = i + 1
                    else:
                        for k, c in enumerate(cells):
                            cur[k].append(c)
                i += 1
            if cur is not None:
                rows.append(cur)
            if ragged:
                # Layout the text conversion mangled: callers that need
                # this table notice it is missing (counts are checked).
                if strict:
                    die('line %d: ragged table row' % ragged)
            else:
                yield heading, [[join_fragments(c) for c in r] for r in rows]
        i += 1


def find_line(lines, pattern, after=0):
    rx = re.compile(pattern)
    for i in range(after, len(lines)):
        if rx.match(lines[i]):
            return i
    die('pattern not found: %s' % pattern)


def parse_value(text, width):
    """Hex value of a table cell, or None for ranges / extensions / blanks."""
    t = text.strip()
    if not t or 'X' in t.split()[0] or RANGE.match(t):
        return None
    m = HEXVAL.match(t)
    if not m or len(m.group(1)) != width:
        return None
    return int(m.group(1), 16)


def clean_name(name):
    # "Certificate Identifier" rows carry "(deprecated ...)" in the value
    # column only; names themselves need only whitespace cleanup.
    return re.sub(r'\s+', ' ', name).strip()


def skip_name(name):
    return (not name or name.startswith('(Reserved') or name.startswith('(Unused')
            or name == 'Extensions' or name.lower().startswith('reserved'))


def extract(path, version):
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    if version == '1.4':
        tag_start = find_line(lines, r'^9\.1\.3\.1 Tags\s*$')
        enum_start = find_line(lines, r'^9\.1\.3\.2 Enumerations\s*$', tag_start)
        end = find_line(lines, r'^10 +Transport\s*$', enum_start)
        tag_title = 'Tag'
    else:
        enum_start = find_line(lines, r'^11 Enumerations\s*$')
        tag_start = find_line(lines, r'^11\.\d+ Tag Enumeration\s*$', enum_start)
        end = find_line(lines, r'^13 Algorithm Implementation\s*$', enum_start)
        tag_title = 'Tag'

    tags = []		# (name, value, deprecated)
    enums = {}		# set name -> list of (name, value)
    masks = set()	# set names that are bit masks
    secnum = {}		# section number -> set name
    for heading, rows in parse_tables(lines, enum_start if version == '2.1' else tag_start, end):
        if len(rows) < 2:
            continue
        # A name/value table: a one-cell title row, then "Name | Value".
        if len(rows[0]) != 1 or len(rows[1]) != 2:
            continue
        title = rows[0][0]
        hdr = [c.lower() for c in rows[1]]
        if hdr[0] not in ('name', 'object') or hdr[1] not in ('value', 'tag value'):
            continue
        is_tag = (title == tag_title)
        if is_tag:
            for name, val in rows[2:]:
                name = clean_name(name)
                v = parse_value(val, 6)
                if skip_name(name) or v is None:
                    continue
                tags.append((name, v, 'deprecated' in val.lower()))
            continue
        hnum, htitle = heading
        in_masks = (version == '1.4' and hnum.startswith('9.1.3.3')) or \
                   (version == '2.1' and hnum.startswith('12'))
        setname = re.sub(r'\s+Enumeration$', '', htitle).strip()
        lst = enums.setdefault(setname, [])
        secnum[hnum] = setname
        if in_masks:
            masks.add(setname)
        for r in rows[2:]:
            if len(r) != 2:
                continue
            name, val = clean_name(r[0]), r[1]
            v = parse_value(val, 8)
            if skip_name(name) or v is None:
                continue
            lst.append((name, v))

    # Which tags are typed Enumeration, and by which enumeration: the
    # field and attribute tables say "Enumeration, see 9.1.3.2.16" or
    # "Enumeration (Item Type)".
    typed = []		# (tag name, type cell)
    for heading, rows in parse_tables(lines, 0, len(lines), strict=False):
        for r in rows:
            if len(r) >= 2 and r[1].startswith('Enumeration'):
                typed.append((r[0], r[1]))
    # Cross-check against a plain count of the table rows that carry a
    # value, so that a row the table parser lost cannot go unnoticed.
    row = re.compile('^\\s*\u2502([^\u2502]*)\u2502\\s*(?:0x)?([0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})(?:\\s|\u2502)')
    raw6 = raw8 = 0
    for line in lines[min(tag_start, enum_start):end]:
        m = row.match(line)
        if not m or skip_name(m.group(1).strip()):
            continue
        if len(m.group(2)) == 6:
            raw6 += 1
        else:
            raw8 += 1
    got8 = sum(len(v) for v in enums.values())
    if raw6 != len(tags) or raw8 != got8:
        die('%s: table rows: %d tags, %d values; extracted %d tags, %d values'
            % (version, raw6, raw8, len(tags), got8))
    return {'tags': tags, 'enums': enums, 'masks': masks, 'secnum': secnum,
            'typed': typed, 'rows': (raw6, raw8)}


# ---------------------------------------------------------------- XML names

def normalize(name):
    """Normalize a spec name by the rule of the KMIP Profiles' XML/JSON
    encodings: brackets become spaces; a non-word character between two
    alphanumerics of which one is a digit becomes '_'; other non-word
    characters become spaces; leading digits of the first word move to its
    end ("3DES" -> "DES3"); each word is capitalized; spaces are removed."""
    s = name.replace('(', ' ').replace(')', ' ')
    s = re.sub(r'(?<=[0-9])[^\w\s]+(?=[A-Za-z0-9])|(?<=[A-Za-z0-9])[^\w\s]+(?=[0-9])', '_', s)
    s = re.sub(r'[^\w]+', ' ', s)
    words = s.split()
    if not words:
        return ''
    m = re.match(r'^([0-9]+)(.+)$', words[0])
    if m:
        words[0] = m.group(2) + m.group(1)
    return ''.join(w[0].upper() + w[1:] for w in words)


# Spellings of the OASIS test cases (and of the implementations that follow
# them) where the rule gives another: the HMAC algorithms keep an underscore
# after "HMAC" ("HMAC-SHA256" -> HMAC_SHA256, the rule: HMACSHA256).  Every
# OASIS XML file is checked against what we write (tests/unit/
# test_xml_roundtrip.c, test_testcase_names).
XML_EXCEPTIONS = [
    (re.compile(r'^HMAC-(.+)$'), lambda m: 'HMAC_' + normalize(m.group(1))),
]


def xml_name(name):
    """The XML/JSON spelling we write: the rule, or an OASIS exception."""
    for rx, fn in XML_EXCEPTIONS:
        m = rx.match(name)
        if m:
            return fn(m)
    return normalize(name)


def loose_key(name):
    return re.sub(r'[^a-z0-9]', '', name.lower())



# ---------------------------------------------------------------- merging

# Enumerations the spec defines by reference to another document.
# PKCS#11 Function: "the 1-based offset count of the function in the
# CK_FUNCTION_LIST_3_0 structure" (2.1 section 11.38): the PKCS#11 v2.40
# functions, its first 68 members (checked against p11-kit's pkcs11.h).
# The 3.0 additions are left out: they still parse and print as hex.
PKCS11_FUNCTIONS = """
C_Initialize C_Finalize C_GetInfo C_GetFunctionList C_GetSlotList
C_GetSlotInfo C_GetTokenInfo C_GetMechanismList C_GetMechanismInfo
C_InitToken C_InitPIN C_SetPIN C_OpenSession C_CloseSession
C_CloseAllSessions C_GetSessionInfo C_GetOperationState
C_SetOperationState C_Login C_Logout C_CreateObject C_CopyObject
C_DestroyObject C_GetObjectSize C_GetAttributeValue C_SetAttributeValue
C_FindObjectsInit C_FindObjects C_FindObjectsFinal C_EncryptInit
C_Encrypt C_EncryptUpdate C_EncryptFinal C_DecryptInit C_Decrypt
C_DecryptUpdate C_DecryptFinal C_DigestInit C_Digest C_DigestUpdate
C_DigestKey C_DigestFinal C_SignInit C_Sign C_SignUpdate C_SignFinal
C_SignRecoverInit C_SignRecover C_VerifyInit C_Verify C_VerifyUpdate
C_VerifyFinal C_VerifyRecoverInit C_VerifyRecover C_DigestEncryptUpdate
C_DecryptDigestUpdate C_SignEncryptUpdate C_DecryptVerifyUpdate
C_GenerateKey C_GenerateKeyPair C_WrapKey C_UnwrapKey C_DeriveKey
C_SeedRandom C_GenerateRandom C_GetFunctionStatus C_CancelFunction
C_WaitForSlotEvent
""".split()
SUPPLEMENT = {
    'PKCS#11 Function': [(n, i + 1) for i, n in enumerate(PKCS11_FUNCTIONS)],
    # CK_RV: only CKR_OK (0) is used by the OASIS test cases, which spell
    # it without the CKR_ prefix.
    'PKCS#11 Return Code': [('OK', 0)],
}

# 2.1 names that are typos of the 1.4 name (which the 2.1 test cases use
# too): the 1.4 name stays canonical.
PREFER_OLD = {
    ('Mask Generator', 'MFG1'),
}

# Sets carried by tags named otherwise, where the spec's type column gives
# no usable reference.
EXTRA_TAG_SETS = {
    'Mask Generator Hashing Algorithm': 'Hashing Algorithm',
    'Extension Type': 'Item Type',
}

TAG_SET = '@tag'	# the "Tag" enumeration (2.x Attribute Reference): values are tags


class Name:
    def __init__(self, name, ver, alias_xml=None):
        self.name = name
        self.ver = ver
        self.xml = alias_xml or xml_name(name)


def merge(old, new, what, prefer_old=(), report=None):
    """Merge [(name, value)] of 1.4 (old) and 2.1 (new) into
    {value: [Name...]}, canonical name first: the 2.1 one, unless listed
    in prefer_old.  A name whose XML spelling is an exception keeps the
    rule's spelling as an alias, read but never written (what versions
    before the exception wrote)."""
    by_val = {}
    for ver, lst in (('2.1', new), ('1.4', old)):
        for name, v in lst:
            names = by_val.setdefault(v, [])
            if all(n.name != name for n in names):
                names.append(Name(name, ver))
    for v, names in by_val.items():
        if len(names) > 1 and (what, names[0].name) in prefer_old:
            names.append(names.pop(0))
        if report is not None and len({n.xml for n in names}) > 1:
            report.append('%s 0x%X: the versions spell it %s; written: %s'
                          % (what, v, ', '.join('%s "%s" (%s)' % (n.ver, n.name, n.xml)
                                                for n in names), names[0].xml))
        for n in list(names):
            rule = normalize(n.name)
            if rule != n.xml and all(x.xml != rule for x in names):
                names.append(Name(n.name, 'rule', rule))
                if report is not None:
                    report.append('%s 0x%X "%s": written %s as the OASIS files do; the '
                                  'rule\'s %s is read too' % (what, v, n.name, n.xml, rule))
    return by_val


def build_index(by_val, what, report):
    """Exact keys (spec and XML spellings) and loose keys -> value."""
    exact = {}
    loose = {}
    for v in sorted(by_val):
        for n in by_val[v]:
            for key in (n.name, n.xml):
                if key in exact and exact[key] != v:
                    report.append('%s: "%s" names 0x%X and 0x%X; kept 0x%X'
                                  % (what, key, exact[key], v, exact[key]))
                    continue
                exact[key] = v
            for key in (n.name, n.xml):
                lk = loose_key(key)
                if lk:
                    loose.setdefault(lk, set()).add(v)
    lz = {}
    for k, vs in loose.items():
        if len(vs) == 1:
            lz[k] = next(iter(vs))
        else:
            report.append('%s: loose spelling "%s" is ambiguous (%s): exact names only'
                          % (what, k, ', '.join('0x%X' % x for x in sorted(vs))))
    return exact, lz


def c_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def ident(s):
    return re.sub(r'[^A-Za-z0-9]+', '_', s).strip('_').lower()


def emit_set(out, cname, by_val, exact, loose, width):
    """Emit the three arrays of one set; returns the C names to reference
    (NULL for an empty array: C has no zero-length arrays)."""
    refs = []
    ents = []
    for v in sorted(by_val):
        for k, nm in enumerate(by_val[v]):
            ents.append('\t{ 0x%0*X, %s, %s, %d },' % (width, v, c_str(nm.name), c_str(nm.xml),
                                                     1 if k else 0))
    keys = ['\t{ %s, 0x%0*X },' % (c_str(k), width, exact[k])
            for k in sorted(exact, key=lambda x: x.encode())]
    lkeys = ['\t{ %s, 0x%0*X },' % (c_str(k), width, loose[k])
             for k in sorted(loose, key=lambda x: x.encode())]
    for suffix, typ, body in (('_e', 'tn_entry', ents), ('_k', 'tn_key', keys),
                              ('_l', 'tn_key', lkeys)):
        if not body:
            refs.append(('NULL', 0))
            continue
        out.append('static const struct %s %s%s[] = {' % (typ, cname, suffix))
        out.extend(body)
        out.append('};')
        refs.append((cname + suffix, len(body)))
    return refs


def generate(d14, d21, report):
    out = []
    counts = {}
    # ---- tags
    tags = merge([(n, v) for n, v, _ in d14['tags']],
                 [(n, v) for n, v, _ in d21['tags']], 'Tag', report=report)
    counts['tags'] = (len(d14['tags']), len(d21['tags']), len(tags),
                      sum(len(x) for x in tags.values()))
    tag_by_name = {}
    for v, names in tags.items():
        for n in names:
            tag_by_name.setdefault(n.name, v)

    # ---- enumeration and mask sets
    sets = {}
    for sn in sorted(set(d14['enums']) | set(d21['enums']) | set(SUPPLEMENT)):
        by_val = merge(d14['enums'].get(sn, []),
                       d21['enums'].get(sn, []) + SUPPLEMENT.get(sn, []), sn, PREFER_OLD,
                       report)
        sets[sn] = by_val
    masks = d14['masks'] | d21['masks']

    # ---- which tag carries which set
    tag_set = {}
    for sn in sets:
        if sn in tag_by_name:
            tag_set[tag_by_name[sn]] = sn
    for d in (d14, d21):
        for tname, cell in d['typed']:
            if tname not in tag_by_name or tag_by_name[tname] in tag_set:
                continue
            m = re.search(r'see\s+([0-9][0-9.]*[0-9])', cell)
            p = re.search(r'\(([^)]*)\)', cell)
            sn = None
            if m and m.group(1) in d['secnum']:
                sn = d['secnum'][m.group(1)]
            elif p and p.group(1) == 'Tag':
                sn = TAG_SET
            elif p and p.group(1) in sets:
                sn = p.group(1)
            else:
                for cand in sets:
                    if tname.endswith(' ' + cand):
                        sn = cand
            if sn is None:
                report.append('tag "%s" is an Enumeration of no known set (%s)' % (tname, cell))
                continue
            tag_set[tag_by_name[tname]] = sn
    for tname, sn in EXTRA_TAG_SETS.items():
        tag_set.setdefault(tag_by_name[tname], sn)
    used = set(tag_set.values())
    for sn in sets:
        if sn not in used:
            report.append('set "%s" is carried by no tag' % sn)

    # ---- emit
    n_enum = len([s for s in sets if s not in masks])
    counts['sets_total'] = (n_enum, len(masks))
    out.append('/* SPDX-License-Identifier: LGPL-2.1-or-later */')
    out.append('/*')
    out.append(' * Generated by src/ttlv/gen-names.py, do not edit: change the generator')
    out.append(' * and run it again.  Source: kmip-spec-v1.4.txt section 9.1.3 and')
    out.append(' * kmip-spec-v2.1.txt sections 11 and 12.')
    out.append(' *')
    out.append(' * %d tag values (1.4: %d, 2.1: %d), %d enumerations, %d bit masks.'
               % (counts['tags'][2], counts['tags'][0], counts['tags'][1], n_enum, len(masks)))
    out.append(' * Each table is sorted by value (canonical name first), each key table')
    out.append(' * by strcmp() of the key, for binary search.')
    out.append(' */')
    out.append('#include "ttlv/names_table.h"')
    out.append('')
    out.append('/* ---------------------------------------------------------------- tags */')
    kx, kl = build_index(tags, 'Tag', report)
    r = emit_set(out, 'tn_tag', tags, kx, kl, 6)
    out.append('const struct tn_set tn_tags = {')
    out.append('\t"Tag", %s, %d, %s, %d, %s, %d, TN_ENUM,' % (r[0] + r[1] + r[2]))
    out.append('};')
    set_index = {}
    rows = []
    counts['sets'] = []
    for sn in sorted(sets, key=lambda x: x.encode()):
        by_val = sets[sn]
        cname = 'tn_' + ident(sn)
        out.append('')
        out.append('/* %s%s */' % (sn, ' (bit mask)' if sn in masks else ''))
        ex, lz = build_index(by_val, sn, report)
        r = emit_set(out, cname, by_val, ex, lz, 8)
        set_index[sn] = len(rows)
        rows.append('\t{ %s, %s, %d, %s, %d, %s, %d, %s },'
                    % ((c_str(sn),) + r[0] + r[1] + r[2] +
                       ('TN_MASK' if sn in masks else 'TN_ENUM',)))
        counts['sets'].append((sn, len(d14['enums'].get(sn, [])), len(d21['enums'].get(sn, [])),
                               len(SUPPLEMENT.get(sn, [])), len(by_val), sn in masks))
    out.append('')
    out.append('const struct tn_set tn_sets[] = {')
    out.extend(rows)
    out.append('};')
    out.append('const unsigned tn_nsets = %d;' % len(rows))
    out.append('')
    out.append('/* Tag -> the set that names its Enumeration or Integer (bit mask) values. */')
    out.append('const struct tn_tagset tn_tagsets[] = {')
    for tag in sorted(tag_set):
        sn = tag_set[tag]
        idx = 'TN_SET_TAGS' if sn == TAG_SET else '%d' % set_index[sn]
        out.append('\t{ 0x%06X, %s },\t/* %s: %s */'
                   % (tag, idx, tags[tag][0].name, 'tags' if sn == TAG_SET else sn))
    out.append('};')
    out.append('const unsigned tn_ntagsets = %d;' % len(tag_set))
    out.append('')
    return '\n'.join(out), counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--spec-dir', default=os.path.join(REPO, '..', 'shared', 'spec'))
    ap.add_argument('--out', default=os.path.join(REPO, 'src', 'ttlv', 'names_table.c'))
    ap.add_argument('--check', action='store_true', help='compare, do not write')
    ap.add_argument('--dump', action='store_true', help='print what was extracted')
    ap.add_argument('--quiet', action='store_true')
    args = ap.parse_args()

    d14 = extract(os.path.join(args.spec_dir, 'kmip-spec-v1.4.txt'), '1.4')
    d21 = extract(os.path.join(args.spec_dir, 'kmip-spec-v2.1.txt'), '2.1')
    if args.dump:
        for ver, d in (('1.4', d14), ('2.1', d21)):
            print('== %s: %d tags' % (ver, len(d['tags'])))
            for n, v, dep in d['tags']:
                print('  %06X %s%s  [%s]' % (v, n, ' (deprecated)' if dep else '', xml_name(n)))
            for s in d['enums']:
                print('== %s %s%s: %d' % (ver, s, ' (mask)' if s in d['masks'] else '',
                                          len(d['enums'][s])))
                for n, v in d['enums'][s]:
                    print('  %08X %s  [%s]' % (v, n, xml_name(n)))
        return 0

    report = []
    text, counts = generate(d14, d21, report)
    if not args.quiet:
        w = sys.stderr.write
        t = counts['tags']
        w('tags: 1.4 %d, 2.1 %d, merged %d values with %d names\n' % t)
        w('enumeration and mask tables: 1.4 %d (%d values), 2.1 %d (%d values); '
          'merged %d enumerations + %d masks\n'
          % (len(d14['enums']), sum(len(l) for l in d14['enums'].values()),
             len(d21['enums']), sum(len(l) for l in d21['enums'].values()),
             counts['sets_total'][0], counts['sets_total'][1]))
        w('cross-check with a plain count of valued table rows: 1.4 %d tags + %d values, '
          '2.1 %d tags + %d values: equal\n' % (d14['rows'] + d21['rows']))
        for sn, a, b, sup, m, mask in counts['sets']:
            w('  %-36s 1.4 %3d  2.1 %3d%s  merged %3d%s\n'
              % (sn, a, b, ('  +%d' % sup) if sup else '', m, '  (mask)' if mask else ''))
        for line in report:
            w('note: %s\n' % line)
    if args.check:
        try:
            with open(args.out, encoding='utf-8') as f:
                cur = f.read()
        except OSError:
            cur = None
        if cur != text:
            sys.stderr.write('gen-names: %s is out of date\n' % args.out)
            return 1
        return 0
    tmp = args.out + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
