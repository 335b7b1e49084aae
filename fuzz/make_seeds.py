#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (fuzz/corpus/<target>/).

Deterministic: running it again gives the same files. The snapshot seeds follow docs/SNAPSHOT.md
(32-byte header, records sorted by id, CRC-32 of everything before it); names prefixed valid-
must load, the others must be rejected (tests/fuzz_corpus.rs checks both).
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def snapshot(users, version=1, flags=0, count=None, total=None, crc=None):
    body = b"".join(struct.pack("<QH", i, len(n.encode())) + n.encode() for i, n in users)
    length = 32 + len(body) + 4
    head = b"\x89USNAP\r\n" + struct.pack(
        "<IIQQ", version, flags, length if total is None else total, len(users) if count is None else count
    )
    data = head + body
    return data + struct.pack("<I", zlib.crc32(data) if crc is None else crc)


IMPORTS = {
    "valid-empty.json": "[]",
    "valid-one.json": '[{"id":1,"name":"Ada"}]',
    "valid-order-and-extra-keys.json": ' [ {"name":"b","id":2,"x":[1,{"y":null}]} ,\n\t{"id":0,"name":"a"} ] ',
    "valid-escapes.json": r'[{"id":3,"name":"\u0000\"\\\/\b\f\n\r\t\ud83d\ude00\u00e9"}]',
    "valid-utf8.json": '[{"id":4,"name":"日本語 😀 é"}]',
    "valid-max-id.json": '[{"id":9223372036854775807,"name":"max"}]',
    "valid-duplicate-ids.json": '[{"id":5,"name":"first"},{"id":5,"name":"second"}]',
    "valid-256-code-points.json": '[{"id":6,"name":"' + "😀" * 256 + '"}]',
    "valid-ignored-anything.json": '[{"id":8,"name":"n","x":1e999,"y":"\\ud800","z":-0.0e-0,"\\udc00":[[[]]]}]',
    "valid-deep-128.json": '[{"id":9,"name":"d","x":' + "[" * 126 + "]" * 126 + "}]",
    "invalid-deep-129.json": '[{"id":9,"name":"d","x":' + "[" * 127 + "]" * 127 + "}]",
    "invalid-id-too-large.json": '[{"id":9223372036854775808,"name":"x"}]',
    "invalid-id-forms.json": '[{"id":-0,"name":"x"},{"id":1.0,"name":"y"},{"id":"1","name":"z"}]',
    "invalid-name-lone-surrogate.json": r'[{"id":1,"name":"\ud800"}]',
    "invalid-name-257.json": '[{"id":1,"name":"' + "a" * 257 + '"}]',
    "invalid-name-empty.json": '[{"id":1,"name":""}]',
    "invalid-duplicate-key.json": r'[{"id":1,"name":"a","\u0069d":2}]',
    "invalid-trailing-comma.json": '[{"id":1,"name":"a"},]',
    "invalid-control-in-key.json": '[{"id":1,"name":"a","x\x01":1}]',
    "invalid-top-level-object.json": '{"id":1,"name":"a"}',
    "invalid-bom.json": "\ufeff[]",
    "invalid-missing-name.json": '[{"id":1}]',
}

for name, text in IMPORTS.items():
    write("import_json", name, text)
write("import_json", "invalid-utf8.json", b'[{"id":1,"name":"\xc3\x28"}]')
write("import_json", "invalid-10k-digit-id.json", '[{"id":' + "9" * 10000 + ',"name":"a"}]')
write("import_json", "valid-10k-digit-ignored.json", '[{"id":1,"name":"a","x":' + "9" * 10000 + "}]")

SNAPSHOTS = {
    "valid-empty.snap": snapshot([]),
    "valid-two.snap": snapshot([(1, "a"), (2, "é")]),
    "valid-special-names.snap": snapshot(
        [(0, "\0"), (3, "😀" * 256), (9, 'a"\\\n'), (2**63 - 1, "max")]
    ),
    "invalid-unsorted.snap": snapshot([(2, "b"), (1, "a")]),
    "invalid-duplicate-id.snap": snapshot([(1, "a"), (1, "b")]),
    "invalid-id-above-max.snap": snapshot([(2**63, "a")]),
    "invalid-bad-crc.snap": snapshot([(1, "a")], crc=0),
    "invalid-count-too-big.snap": snapshot([(1, "a")], count=2),
    "invalid-version.snap": snapshot([(1, "a")], version=2),
    "invalid-flags.snap": snapshot([(1, "a")], flags=1),
    "invalid-total.snap": snapshot([(1, "a")], total=10),
    "invalid-name-too-long.snap": snapshot([(1, "a" * 257)]),
    "invalid-name-empty.snap": snapshot([(1, "")]),
}
for name, data in SNAPSHOTS.items():
    write("snapshot", name, data)
# Bytes that are not UTF-8 inside a name, with a correct CRC.
bad = snapshot([(1, "ab")])
bad = bad[:42] + b"\xff" + bad[43:-4]
write("snapshot", "invalid-name-not-utf8.snap", bad + struct.pack("<I", zlib.crc32(bad)))
write("snapshot", "invalid-truncated.snap", snapshot([(1, "a")])[:20])
