#!/usr/bin/env python3
"""Writes the golden files of spec/ and spec/cases.tsv from the tables of docs/RULES.md,
docs/SNAPSHOT.md and docs/DURABILITY.md.

Run it from anywhere: `python3 spec/generate.py`. It rewrites spec/json/, spec/snapshot/,
spec/wal/ and spec/cases.tsv (spec/durable-golden.wal.hex and README.md are kept by hand).
The expected results written here come from the documents, not from either engine: the
Rust test (tests/spec.rs) and the Kotlin test (SpecTest.kt) check both engines against them.

Hand-written on purpose: the point is an encoder independent of both engines, built only
from the documents' tables (struct + zlib.crc32 from the standard library do the bytes).
"""

import os
import shutil
import struct
import zlib

SPEC = os.path.dirname(os.path.abspath(__file__))
LONG_MAX = 9223372036854775807

rows = []  # (kind, input, outcome, expected, extra)

# Start from empty folders, so a case removed here leaves no file behind.
for sub in ("json", "snapshot", "wal"):
    shutil.rmtree(os.path.join(SPEC, sub), ignore_errors=True)


def write(rel, data):
    path = os.path.join(SPEC, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def hex_text(parts):
    """One field or record per line, so a diff shows which one changed."""
    return ("\n".join(p.hex() for p in parts if p) + "\n").encode()


def export(users):
    """The export of docs/RULES.md "JSON written": sorted by id, serde_json escaping."""
    def esc(name):
        out = []
        for ch in name:
            c = ord(ch)
            if ch == '"':
                out.append('\\"')
            elif ch == "\\":
                out.append("\\\\")
            elif c < 0x20:
                out.append({8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t"}.get(c, "\\u%04x" % c))
            else:
                out.append(ch)
        return "".join(out)

    body = ",".join('{"id":%d,"name":"%s"}' % (i, esc(n)) for i, n in sorted(users.items()))
    return ("[" + body + "]").encode("utf-8")


# ---------------------------------------------------------------- JSON (docs/RULES.md)

def accepted(name, text, count, users):
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    write(f"json/accepted/{name}.json", data)
    write(f"json/accepted/{name}.expected.json", export(users))
    rows.append(("json", f"json/accepted/{name}.json", "ok", f"json/accepted/{name}.expected.json", str(count)))


def refused(name, text, fragment):
    data = text.encode("utf-8") if isinstance(text, str) else text
    write(f"json/refused/{name}.json", data)
    rows.append(("json", f"json/refused/{name}.json", "InvalidJson", fragment, "-"))


def arrays(n):
    return "[" * n + "]" * n


def objects(n):
    return '{"k":' * (n - 1) + "{}" + "}" * (n - 1)


A = '[{"id":1,"name":"a"}]'
EMOJI = "\U0001F600"

accepted("empty-array", "[]", 0, {})
accepted("whitespace-everywhere", ' \t\r\n[ { "id" : 1 , "name" : "a" } ]\n', 1, {1: "a"})
accepted("name-before-id", '[{"name":"a","id":1}]', 1, {1: "a"})
accepted("sorted-on-export", '[{"id":3,"name":"c"},{"id":1,"name":"a"},{"id":2,"name":"b"}]', 3,
         {1: "a", 2: "b", 3: "c"})
accepted("id-0-and-long-max", '[{"id":9223372036854775807,"name":"m"},{"id":0,"name":"z"}]', 2,
         {0: "z", LONG_MAX: "m"})
accepted("duplicate-id-later-wins", '[{"id":1,"name":"x"},{"id":2,"name":"b"},{"id":1,"name":"a"}]', 3,
         {1: "a", 2: "b"})
accepted("escaped-keys", '[{"\\u0069d":1,"\\u006e\\u0061\\u006d\\u0065":"a"}]', 1, {1: "a"})
accepted("short-escapes", '[{"id":1,"name":"\\"\\\\\\/\\b\\f\\n\\r\\t"}]', 1, {1: '"\\/\b\f\n\r\t'})
accepted("u-escapes-and-nul", '[{"id":1,"name":"\\u0000\\u001F\\u0041\\u00e9\\u65E5\\u007f"}]', 1,
         {1: "\u0000\u001fA\u00e9\u65e5\u007f"})
accepted("nul-escape-mid-name", '[{"id":7,"name":"a\\u0000b"}]', 1, {7: "a\u0000b"})
accepted("surrogate-pair-escape", '[{"id":1,"name":"\\ud83d\\ude00"}]', 1, {1: EMOJI})
accepted("last-code-point-escape", '[{"id":1,"name":"\\uDBFF\\uDFFF"}]', 1, {1: "\U0010FFFF"})
accepted("raw-non-ascii", '[{"id":1,"name":"' + EMOJI + "\u007f\u2028\ufeff\u00e9\"}]", 1,
         {1: EMOJI + "\u007f\u2028\ufeff\u00e9"})
accepted("name-256-emoji", '[{"id":1,"name":"' + EMOJI * 256 + '"}]', 1, {1: EMOJI * 256})
accepted("name-256-escaped-nuls", '[{"id":1,"name":"' + "\\u0000" * 256 + '"}]', 1, {1: "\u0000" * 256})
accepted("unknown-fields-any-json",
         '[{"id":1,"extra":{"nested":[1,2.5e10,-0,true,false,null,"s",{}]},"name":"a","e2":-1.5E-7,"e3":[],"e4":{}}]',
         1, {1: "a"})
accepted("unknown-keys-like-id", '[{"Id":"x","id ":null,"ids":[],"id":1,"name":"a","Name":5}]', 1, {1: "a"})
accepted("ignored-big-numbers", '[{"id":1,"name":"a","x":123456789012345678901234567890,"y":1e999999,"z":18446744073709551616}]',
         1, {1: "a"})
accepted("ignored-lone-surrogate-strings", '[{"id":1,"name":"a","x":"\\ud800","y":"\\udfff\\ud800"}]', 1, {1: "a"})
accepted("ignored-duplicate-keys-nested", '[{"id":1,"name":"a","x":{"a":1,"a":2}}]', 1, {1: "a"})
accepted("unpaired-surrogate-record-keys", '[{"\\ud800":1,"\\udc00":2,"id":1,"name":"a"}]', 1, {1: "a"})
accepted("nesting-128-arrays", '[{"id":1,"name":"a","x":' + "[" * 126 + "]" * 126 + "}]", 1, {1: "a"})
accepted("nesting-128-objects", '[{"id":1,"name":"a","x":' + objects(126) + "}]", 1, {1: "a"})

# Rule 1: UTF-8.
refused("r1-bad-continuation-in-name", b'[{"id":1,"name":"a\xc3\x28b"}]', "not valid UTF-8")
refused("r1-overlong-nul", b'[{"id":1,"name":"a\xc0\x80"}]', "not valid UTF-8")
refused("r1-encoded-surrogate", b'[{"id":1,"name":"\xed\xa0\x80"}]', "not valid UTF-8")
refused("r1-cesu8-emoji", b'[{"id":1,"name":"\xed\xa0\xbd\xed\xb8\x80"}]', "not valid UTF-8")
refused("r1-above-10ffff", b'[{"id":1,"name":"\xf4\x90\x80\x80"}]', "not valid UTF-8")
refused("r1-truncated-at-end", b'[{"id":1,"name":"a"}]\xe2\x82', "not valid UTF-8")
refused("r1-byte-order-mark", b'\xef\xbb\xbf[{"id":1,"name":"a"}]', "invalid JSON")
refused("r1-utf16", '[{"id":1,"name":"a"}]'.encode("utf-16-le"), "record 0")
# Rule 2: one strict RFC 8259 value.
refused("r2-empty-input", "", "invalid JSON")
refused("r2-two-values", "[] []", "invalid JSON")
# The engines' messages share no fragment here (see spec/README.md): "-", the message is not checked.
refused("r2-trailing-comma", '[{"id":1,"name":"a"},]', "-")
refused("r2-trailing-comma-object", '[{"id":1,"name":"a",}]', "record 0")
refused("r2-comment", '[/* c */{"id":1,"name":"a"}]', "record 0")
refused("r2-single-quotes", "[{'id':1,'name':'a'}]", "record 0")
refused("r2-nan", '[{"id":1,"name":"a","x":NaN}]', "record 0")
refused("r2-leading-zero", '[{"id":1,"name":"a","x":01}]', "record 0")
refused("r2-lone-minus", '[{"id":1,"name":"a","x":-}]', "record 0")
refused("r2-raw-newline-in-name", '[{"id":1,"name":"a\nb"}]', "record 0")
refused("r2-raw-nul-in-name", '[{"id":1,"name":"a\u0000b"}]', "record 0")
refused("r2-form-feed-whitespace", "[\u000c]", "record 0")
refused("r2-bad-escape", '[{"id":1,"name":"a\\x"}]', "record 0")
refused("r2-unclosed", '[{"id":1,"name":"a"}', "invalid JSON")
# Rule 3: nesting depth.
refused("r3-129-arrays", arrays(129), "record 0")
refused("r3-level-129-ignored-array", '[{"id":1,"name":"a","x":' + arrays(127) + "}]", "record 0")
refused("r3-level-129-ignored-object", '[{"id":1,"name":"a","x":' + objects(127) + "}]", "record 0")
refused("r3-level-129-later-record", '[{"id":1,"name":"a"},{"id":2,"name":"b","x":' + arrays(127) + "}]", "record 1")
# Rule 4: an array of objects.
refused("r4-object-top-level", '{"id":1,"name":"a"}', "invalid JSON")
refused("r4-number-record", '[{"id":1,"name":"a"},3]', "record 1")
refused("r4-null-record", "[null]", "record 0")
# Rule 5: duplicate keys after unescaping.
refused("r5-duplicate-id", '[{"id":1,"name":"a","id":2}]', "record 0")
refused("r5-duplicate-id-escaped", '[{"id":1,"name":"a","\\u0069d":2}]', "record 0")
refused("r5-duplicate-emoji-key", '[{"id":1,"name":"a","' + EMOJI + '":1,"\\ud83d\\ude00":2}]', "record 0")
refused("r5-duplicate-lone-surrogate-key", '[{"id":1,"name":"a","\\ud800":1,"\\ud800":2}]', "record 0")
refused("r5-duplicate-ignored-key", '[{"id":1,"name":"a","x":1,"x":2}]', "record 0")
# Rule 6: id and name required.
refused("r6-missing-id", '[{"name":"a"}]', "record 0")
refused("r6-missing-name-later", '[{"id":1,"name":"a"},{"id":2,"nam":"b"}]', "record 1")
refused("r6-keys-differ-in-case", '[{"ID":1,"Name":"a"}]', "record 0")
# Rule 7: id grammar and range.
for label, value in [("minus-one", "-1"), ("minus-zero", "-0"), ("fraction", "1.0"), ("exponent", "1e3"),
                     ("string", '"1"'), ("null", "null"), ("long-max-plus-one", "9223372036854775808"),
                     ("u64-max", "18446744073709551615"), ("leading-zero", "01")]:
    refused(f"r7-id-{label}", '[{"id":' + value + ',"name":"a"}]', "record 0")
# Rule 8: name is a valid name.
refused("r8-empty-name", '[{"id":1,"name":""}]', "record 0")
refused("r8-257-ascii", '[{"id":1,"name":"' + "a" * 257 + '"}]', "record 0")
refused("r8-257-emoji", '[{"id":1,"name":"' + EMOJI * 257 + '"}]', "record 0")
refused("r8-lone-high-surrogate", '[{"id":1,"name":"\\ud800"}]', "record 0")
refused("r8-lone-low-surrogate", '[{"id":1,"name":"\\udc00"}]', "record 0")
refused("r8-reversed-pair", '[{"id":1,"name":"\\ude00\\ud83d"}]', "record 0")
refused("r8-name-number", '[{"id":1,"name":1}]', "record 0")
refused("r8-bad-name-in-record-50",
        "[" + ",".join('{"id":%d,"name":"n"}' % i for i in range(50)) + ',{"id":50,"name":""}]', "record 50")

# ---------------------------------------------------------------- snapshots (docs/SNAPSHOT.md)

SNAP_MAGIC = bytes([0x89, 0x55, 0x53, 0x4E, 0x41, 0x50, 0x0D, 0x0A])


def snap_record(uid, name_bytes):
    return struct.pack("<QH", uid, len(name_bytes)) + name_bytes


def snapshot(records, count=None, version=1, flags=0, magic=SNAP_MAGIC, length_delta=0):
    """Fields as a list of byte strings: header fields, records, CRC (valid for the given fields)."""
    body = b"".join(records)
    total = 32 + len(body) + 4
    header = [magic, struct.pack("<I", version), struct.pack("<I", flags),
              struct.pack("<Q", total + length_delta), struct.pack("<Q", len(records) if count is None else count)]
    data = b"".join(header) + body
    return header + list(records) + [struct.pack("<I", zlib.crc32(data))]


def snap_ok(name, users):
    recs = [snap_record(i, n.encode("utf-8")) for i, n in sorted(users.items())]
    write(f"snapshot/{name}.snap.hex", hex_text(snapshot(recs)))
    write(f"snapshot/{name}.expected.json", export(users))
    rows.append(("snapshot", f"snapshot/{name}.snap.hex", "ok", f"snapshot/{name}.expected.json", str(len(users))))


def snap_bad(name, fields, fragment):
    write(f"snapshot/{name}.snap.hex", hex_text(fields))
    rows.append(("snapshot", f"snapshot/{name}.snap.hex", "CorruptSnapshot", fragment, "-"))


USERS = {0: "zero", 1: "Ada", 2: "Zo\u00eb \u540d\u524d " + EMOJI, 3: "a\u0000b\n\"q\"", LONG_MAX: "x" * 256}
snap_ok("empty", {})
snap_ok("five-users", USERS)
snap_ok("name-1024-bytes", {5: EMOJI * 256})

good = snapshot([snap_record(1, b"Ada"), snap_record(2, b"Bob")])
flat = b"".join(good)
snap_bad("bad-magic", snapshot([snap_record(1, b"Ada")], magic=b"\x88USNAP\r\n"), "wrong magic")
snap_bad("text-mode-transfer", [flat.replace(b"\r\n", b"\n")], "wrong magic")
snap_bad("short-not-magic", [b"USNAP"], "wrong magic")
snap_bad("short-magic-prefix", [SNAP_MAGIC[:5]], "truncated")
snap_bad("only-35-bytes", [flat[:35]], "truncated")
snap_bad("version-2", snapshot([], version=2), "version 2")
snap_bad("flags-1", snapshot([], flags=1), "flags")
snap_bad("cut-last-byte", [flat[:-1]], "truncated")
snap_bad("byte-appended", good + [b"\x00"], "bytes after the end")
snap_bad("bad-crc", good[:-1] + [bytes([good[-1][0] ^ 1]) + good[-1][1:]], "checksum mismatch")
snap_bad("flipped-name-byte", good[:5] + [snap_record(1, b"Adb"), good[6], good[-1]], "checksum mismatch")
snap_bad("count-too-high", snapshot([snap_record(1, b"a" * 20)], count=2), "record 1: runs past the end")
snap_bad("count-cannot-fit", snapshot([snap_record(1, b"Ada")], count=1000), "cannot fit")
snap_bad("count-too-low", snapshot([snap_record(1, b"Ada"), snap_record(2, b"Bob")], count=1),
         "bytes after the last")
snap_bad("ids-not-ascending", snapshot([snap_record(2, b"Bob"), snap_record(1, b"Ada")]), "ascending")
snap_bad("duplicate-id", snapshot([snap_record(1, b"Ada"), snap_record(1, b"Bob")]), "ascending")
snap_bad("id-above-long-max", snapshot([snap_record(LONG_MAX + 1, b"Ada")]), "record 0")
snap_bad("name-length-0", snapshot([snap_record(1, b""), snap_record(2, b"Bob")]), "name length 0")
snap_bad("name-length-1025", snapshot([struct.pack("<QH", 1, 1025) + b"a" * 1025]), "name length 1025")
snap_bad("name-past-the-end", snapshot([struct.pack("<QH", 1, 200) + b"Ada"]), "runs past the end")
snap_bad("name-overlong-utf8", snapshot([snap_record(1, b"\xc0\x80")]), "not valid UTF-8")
snap_bad("name-encoded-surrogate", snapshot([snap_record(1, b"\xed\xa0\x80")]), "not valid UTF-8")
snap_bad("name-257-code-points", snapshot([snap_record(1, b"a" * 257)]), "record 0")

# ---------------------------------------------------------------- WAL directories (docs/DURABILITY.md)

WAL_MAGIC = bytes([0x89, 0x55, 0x53, 0x57, 0x41, 0x4C, 0x0D, 0x0A])


def wal_header(gen):
    h = WAL_MAGIC + struct.pack("<IIQ", 1, 0, gen)
    return h + struct.pack("<I", zlib.crc32(h))


def frame(payload):
    n = len(payload)
    return struct.pack("<III", n, n ^ 0xFFFFFFFF, zlib.crc32(payload)) + payload


def put(uid, name):
    return frame(b"\x01" + struct.pack("<QH", uid, len(name.encode())) + name.encode())


def remove(uid):
    return frame(b"\x02" + struct.pack("<Q", uid))


def imp(users):
    p = b"\x03" + struct.pack("<I", len(users))
    for uid, name in users:
        p += struct.pack("<QH", uid, len(name.encode())) + name.encode()
    return frame(p)


def batch(puts, removes, p=None, r=None, extra=b""):
    """A batch record (type 4); p and r override the counts written, extra is appended to the payload."""
    payload = b"\x04" + struct.pack("<I", len(puts) if p is None else p)
    for uid, name in puts:
        payload += struct.pack("<QH", uid, len(name.encode())) + name.encode()
    payload += struct.pack("<I", len(removes) if r is None else r)
    for uid in removes:
        payload += struct.pack("<Q", uid)
    return frame(payload + extra)


def log_name(g):
    return "log-%020d.wal" % g


def snap_name(g):
    return "snapshot-%020d.snap" % g


def wal_case(name, files, outcome, expected, extra="-"):
    """files: {file name: list of byte strings}; each written as NAME.hex inside spec/wal/<name>/."""
    d = os.path.join(SPEC, "wal", name)
    os.makedirs(d, exist_ok=True)
    for fname, parts in files.items():
        write(f"wal/{name}/{fname}.hex", hex_text(parts))
    if outcome == "ok":
        write(f"wal/{name}.expected.json", export(expected))
        rows.append(("wal", f"wal/{name}", "ok", f"wal/{name}.expected.json", extra))
    else:
        rows.append(("wal", f"wal/{name}", outcome, expected, extra))


OPS = [put(1, "Ada"), put(2, "Bob"), remove(1), imp([(3, "Cy"), (2, "Bo")])]
AFTER = {2: "Bo", 3: "Cy"}
H1 = wal_header(1)
full = len(H1) + sum(len(r) for r in OPS)

# extra = the newest log's size in bytes after the open (the torn tail cut), "-" when not checked.
wal_case("empty-log", {log_name(1): [H1]}, "ok", {}, str(len(H1)))
wal_case("four-records", {log_name(1): [H1] + OPS}, "ok", AFTER, str(full))
last = put(4, "Di")
wal_case("torn-short-record", {log_name(1): [H1] + OPS + [last[:11]]}, "ok", AFTER, str(full))
wal_case("torn-past-the-end", {log_name(1): [H1] + OPS + [last[:-1]]}, "ok", AFTER, str(full))
wal_case("torn-header-only-of-record", {log_name(1): [H1] + OPS + [last[:12]]}, "ok", AFTER, str(full))
bad_last = last[:-1] + bytes([last[-1] ^ 0xFF])
wal_case("torn-bad-crc-last", {log_name(1): [H1] + OPS + [bad_last]}, "ok", AFTER, str(full))
wal_case("torn-zeroed-tail", {log_name(1): [H1] + OPS + [b"\x00" * 4096]}, "ok", AFTER, str(full))
bad_mid = OPS[1][:-1] + bytes([OPS[1][-1] ^ 0x01])
wal_case("damaged-crc-middle", {log_name(1): [H1, OPS[0], bad_mid, OPS[2], OPS[3]]}, "CorruptSnapshot",
         "checksum mismatch")
wal_case("damaged-length-check", {log_name(1): [H1] + OPS + [struct.pack("<II", 14, 14) + last[8:]]},
         "CorruptSnapshot", "damaged record")
wal_case("damaged-length-zero", {log_name(1): [H1] + OPS + [struct.pack("<II", 0, 0xFFFFFFFF) + last[8:]]},
         "CorruptSnapshot", "damaged record")
wal_case("damaged-unknown-type", {log_name(1): [H1, frame(b"\x07" + struct.pack("<Q", 1)), OPS[0]]},
         "CorruptSnapshot", "damaged record")
wal_case("damaged-negative-id", {log_name(1): [H1, frame(b"\x01" + struct.pack("<QH", LONG_MAX + 1, 1) + b"a"), OPS[0]]},
         "CorruptSnapshot", "damaged record")
wal_case("damaged-header-crc", {log_name(1): [H1[:-1] + bytes([H1[-1] ^ 1])] + OPS}, "CorruptSnapshot",
         "damaged header")
wal_case("damaged-header-generation", {log_name(1): [wal_header(2)] + OPS}, "CorruptSnapshot", "damaged header")
wal_case("damaged-short-header", {log_name(1): [H1[:20]]}, "CorruptSnapshot", "damaged header")
# A torn tail in a log that is not the newest is damage.
wal_case("torn-tail-in-older-log", {log_name(1): [H1] + OPS + [last[:11]], log_name(2): [wal_header(2)]},
         "CorruptSnapshot", "log-00000000000000000001.wal")
# A snapshot base and the logs after it.
base = [snap_record(1, b"Ada"), snap_record(5, b"Eve")]
wal_case("snapshot-and-two-logs",
         {snap_name(2): snapshot(base), log_name(2): [wal_header(2), put(6, "Fay"), remove(1)],
          log_name(3): [wal_header(3), imp([(7, "Gus"), (5, "Eva")])]},
         "ok", {5: "Eva", 6: "Fay", 7: "Gus"}, str(28 + len(imp([(7, "Gus"), (5, "Eva")]))))
# A checkpoint cut short after the new snapshot: the older generation's files are left and dropped.
wal_case("leftovers-below-base",
         {log_name(1): [H1] + OPS, snap_name(2): snapshot([snap_record(2, b"Bo"), snap_record(3, b"Cy")]),
          log_name(2): [wal_header(2), put(4, "Di")]},
         "ok", {2: "Bo", 3: "Cy", 4: "Di"}, str(28 + len(put(4, "Di"))))
wal_case("missing-log-in-chain", {snap_name(2): snapshot([]), log_name(2): [wal_header(2)], log_name(4): [wal_header(4)]},
         "CorruptSnapshot", "log-00000000000000000003.wal")
wal_case("damaged-base-snapshot", {snap_name(2): snapshot([snap_record(1, b"Ada")], version=9), log_name(2): [wal_header(2)]},
         "CorruptSnapshot", "version 9")

# Batch records (type 4): puts in order (the later wins), then removes; damage as for the other types.
BATCHES = [batch([(4, "Di"), (3, "Cy2"), (4, "Dee")], [2]), batch([], [3]), batch([(5, "Eve")], []),
           batch([(6, "Fay"), (7, "Gus")], [5, 4])]
wal_case("batch-records", {log_name(1): [H1] + OPS + BATCHES}, "ok", {6: "Fay", 7: "Gus"},
         str(full + sum(len(b) for b in BATCHES)))
last_batch = batch([(4, "Di"), (5, "Eve")], [3, 2])
wal_case("torn-batch-past-the-end", {log_name(1): [H1] + OPS + [last_batch[:-1]]}, "ok", AFTER, str(full))
wal_case("torn-batch-bad-crc-last", {log_name(1): [H1] + OPS + [last_batch[:-1] + bytes([last_batch[-1] ^ 0xFF])]},
         "ok", AFTER, str(full))
at = f"damaged record at offset {full}"
wal_case("damaged-batch-nothing", {log_name(1): [H1] + OPS + [batch([], [])]}, "CorruptSnapshot", at)
wal_case("damaged-batch-put-and-removed", {log_name(1): [H1] + OPS + [batch([(4, "Di"), (5, "Eve")], [5])]},
         "CorruptSnapshot", at)
wal_case("damaged-batch-put-count-too-high", {log_name(1): [H1] + OPS + [batch([(4, "Di")], [], p=2)]},
         "CorruptSnapshot", at)
wal_case("damaged-batch-remove-count-too-high", {log_name(1): [H1] + OPS + [batch([(4, "Di")], [3], r=2)]},
         "CorruptSnapshot", at)
wal_case("damaged-batch-byte-after", {log_name(1): [H1] + OPS + [batch([(4, "Di")], [3], extra=b"\x00")]},
         "CorruptSnapshot", at)
wal_case("damaged-batch-name-length-0", {log_name(1): [H1] + OPS + [batch([(4, "")], [])]}, "CorruptSnapshot", at)
wal_case("damaged-batch-remove-above-long-max", {log_name(1): [H1] + OPS + [batch([], [LONG_MAX + 1])]},
         "CorruptSnapshot", at)
wal_case("damaged-batch-in-middle", {log_name(1): [H1] + OPS + [batch([(4, "Di")], [4]), put(5, "Eve")]},
         "CorruptSnapshot", at)


with open(os.path.join(SPEC, "cases.tsv"), "w", encoding="utf-8") as f:
    f.write("# kind\tinput\toutcome\texpected\textra    (see spec/README.md)\n")
    for r in rows:
        assert all("\t" not in c and "\n" not in c for c in r), r
        f.write("\t".join(r) + "\n")
print(f"{len(rows)} cases written to spec/cases.tsv")
