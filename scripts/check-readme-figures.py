#!/usr/bin/env python3
"""Check that every number in README.md's results table occurs in the raw file its row links to.

    scripts/check-readme-figures.py [README.md]     check the table (exit 1 on any failure)
    scripts/check-readme-figures.py --self-test     run this script's own tests (fixtures with right
                                                    and wrong figures) and exit

The table is the first Markdown table after the marker line `<!-- results-table -->`. Its first column
names the row, its last column links the raw file(s) of the row (`[text](path)`, relative to the
README; a linked folder stands for every file under it); every other cell is a figure cell. When the
last cell has one link per figure cell, the links go with the figure cells in order (the JDK 25 file
for the JDK 25 column, ...); otherwise every figure cell is checked against all of the row's files. Each
number in a figure cell (`0.85`, `1,234`, `2.30x`: the number is `2.30`; a number glued to a letter
other than a ratio's trailing `x`, as `p99.9` or `4M`, is a name, not a figure) must occur in the text of one of the row's raw files,
as written or with or without thousands separators (`1,234` or `1234`), not as part of a longer
number (`0.8` does not match `0.85`, `10.85` or `0.8.1`). A row with no link fails, as does a link
to a file that does not exist.

Used by `./gradlew check`. Python's standard library only: the job is a few regular expressions
over one Markdown table, which no table library would make shorter.
"""

import os
import re
import sys
import tempfile
import unittest

MARKER = "<!-- results-table -->"
NUMBER = re.compile(r"(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)?(?!\d|[.,]\d|[^\W\dx])")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def table_rows(text):
    """The rows (lists of cells) of the first table after MARKER, header and separator excluded."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if MARKER in line)
    except StopIteration:
        raise ValueError(f"no line with the marker {MARKER}") from None
    rows = []
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if not stripped.startswith("|"):
            if rows:
                break
            continue
        rows.append([c.strip() for c in stripped.strip("|").split("|")])
    if len(rows) < 3:
        raise ValueError(f"no table with a header, a separator and rows after {MARKER}")
    return rows[2:]


def numbers(cell):
    return [m.group(0) for m in NUMBER.finditer(cell)]


def occurs(number, text):
    """True if the number occurs in text as written or without thousands separators."""
    plain = number.replace(",", "")
    whole, dot, fraction = plain.partition(".")
    forms = {number, plain, f"{int(whole):,}{dot}{fraction}"}
    for form in forms:
        if re.search(r"(?<![\d.])" + re.escape(form) + r"(?!\d|\.\d)", text):
            return True
    return False


def raw_text(base, link):
    path = os.path.normpath(os.path.join(base, link.split("#", 1)[0]))
    if os.path.isdir(path):
        parts = []
        for root, _, files in sorted(os.walk(path)):
            for name in sorted(files):
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    parts.append(f.read())
        return "\n".join(parts)
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def check(readme):
    """A list of failure messages (empty when every figure is found)."""
    base = os.path.dirname(os.path.abspath(readme))
    with open(readme, encoding="utf-8") as f:
        try:
            rows = table_rows(f.read())
        except ValueError as e:
            return [f"{readme}: {e}"]
    failures = []
    for row in rows:
        name, figures, raw = row[0], row[1:-1], row[-1]
        links = LINK.findall(raw)
        if not links:
            failures.append(f"row '{name}': no raw file linked in its last cell: {raw!r}")
            continue
        texts = {}
        for link in links:
            try:
                texts[link] = raw_text(base, link)
            except OSError as e:
                failures.append(f"row '{name}': raw file {link} cannot be read: {e.strerror}")
        if len(texts) < len(set(links)):
            continue
        per_cell = [[link] for link in links] if len(links) == len(figures) else [links] * len(figures)
        for cell, cell_links in zip(figures, per_cell):
            text = "\n".join(texts[link] for link in cell_links)
            for number in numbers(cell):
                if not occurs(number, text):
                    failures.append(
                        f"row '{name}': {number} (in '{cell}') does not occur in {', '.join(cell_links)}"
                    )
    return failures


class SelfTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        os.mkdir(os.path.join(self.dir.name, "raw"))
        self.write("raw/a.txt", "get ratio 0.85, p99.9 1234 ns; load 2.30; total 12,500 req/s\n")
        os.mkdir(os.path.join(self.dir.name, "raw/run"))
        self.write("raw/run/summary.txt", "capacity 42,090 req/s\n")

    def write(self, name, text):
        with open(os.path.join(self.dir.name, name), "w", encoding="utf-8") as f:
            f.write(text)

    def readme(self, *rows):
        table = ["# x", "", MARKER, "", "| what | JDK 25 | JDK 17 | raw |", "|---|---:|---:|---|", *rows, ""]
        self.write("README.md", "\n".join(table) + "\nafter the table: 999\n")
        return check(os.path.join(self.dir.name, "README.md"))

    def test_figures_found_pass(self):
        self.assertEqual(self.readme("| get, p99.9 | 0.85x | 1,234 ns | [a](raw/a.txt) |"), [])

    def test_thousands_separator_either_way(self):
        self.assertEqual(self.readme("| total | 12500 | 12,500 | [a](raw/a.txt) |"), [])

    def test_linked_folder_counts_for_its_files(self):
        self.assertEqual(self.readme("| capacity | 42,090 req/s | — | [run](raw/run/) |"), [])

    def test_one_link_per_figure_cell_checks_each_cell_against_its_own_file(self):
        self.write("raw/b.txt", "ratio 0.31\n")
        self.assertEqual(self.readme("| p99.9 | 0.31 | 0.85 | [25](raw/b.txt), [17](raw/a.txt) |"), [])
        failures = self.readme("| p99.9 | 0.85 | 0.31 | [25](raw/b.txt), [17](raw/a.txt) |")
        self.assertEqual(len(failures), 2)

    def test_wrong_figure_fails(self):
        failures = self.readme("| get | 0.86x | 1,234 ns | [a](raw/a.txt) |")
        self.assertEqual(len(failures), 1)
        self.assertIn("0.86", failures[0])

    def test_prefix_of_a_longer_number_fails(self):
        self.assertEqual(len(self.readme("| get | 0.8x | 2.3 | [a](raw/a.txt) |")), 2)

    def test_missing_file_and_missing_link_fail(self):
        self.assertEqual(len(self.readme("| get | 0.85 | — | [a](raw/none.txt) |")), 1)
        self.assertEqual(len(self.readme("| get | 0.85 | — | raw/a.txt |")), 1)

    def test_no_marker_fails(self):
        self.write("README.md", "| what | x | raw |\n|---|---|---|\n| a | 1 | [a](raw/a.txt) |\n")
        self.assertEqual(len(check(os.path.join(self.dir.name, "README.md"))), 1)

    def test_numbers_glued_to_letters_are_names(self):
        self.assertEqual(numbers("p99.9 at 4M users: 0.85x, 1,234 ns"), ["0.85", "1,234"])
        self.assertEqual(numbers("0.85, 1.2 and 3; 4.5."), ["0.85", "1.2", "3", "4.5"])


def main(argv):
    if argv[1:] == ["--self-test"]:
        result = unittest.TextTestRunner(verbosity=0).run(
            unittest.defaultTestLoader.loadTestsFromTestCase(SelfTest)
        )
        return 0 if result.wasSuccessful() else 1
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    readme = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(__file__), "..", "README.md")
    failures = check(readme)
    for failure in failures:
        print(f"check-readme-figures: {failure}", file=sys.stderr)
    if failures:
        print(
            f"check-readme-figures: {len(failures)} figure(s) in the README results table not found "
            "in their raw files",
            file=sys.stderr,
        )
        return 1
    print("check-readme-figures: every figure of the README results table occurs in its raw file")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
