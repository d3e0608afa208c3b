#!/usr/bin/env python3
"""Rebuilds the hostile-input corpus from data/churn-sample.csv (its first 60 data rows, all valid).

Each case is one file here and one line of the table in etl/README.md ("Hostile input corpus"), which
tests/etl/test_etl_hostile.py reads for the expected outcome. Run from anywhere:
    .venv/bin/python tests/etl/corpus/make_corpus.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def main() -> None:
    lines = (REPO / "data" / "churn-sample.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:61]
    schema = json.loads((REPO / "data" / "churn.schema.json").read_text())
    schema["quality"] = {"maxQuarantineShare": 0.5, "minRows": 10}  # small files: let quarantined rows through
    (HERE / "schema.json").write_text(json.dumps(schema, indent=2) + "\n")

    def lf(body: list[str], head: str = header, end: str = "\n") -> bytes:
        return (end.join([head, *body]) + end).encode("utf-8")

    def replace(i: int, new: str) -> list[str]:
        return rows[:i] + [new] + rows[i + 1:]

    cases: dict[str, bytes] = {
        # A quote opened and never closed: the rows after it used to disappear into one field.
        "unterminated_quote.csv": lf(replace(5, rows[5].replace(",month-to-month,", ',"month-to-month,'))),
        # An opening quote whose "closing" quote is a later row's real opening quote.
        "stray_quote_pairs_later.csv": lf(replace(5, rows[5].replace(",fiber,", ',"fiber,'))[:30]
                                          + [rows[30].replace(",dsl,", ',"dsl",')] + rows[31:]),
        # Text after a closing quote on one line: "fiber"x.
        "text_after_closing_quote.csv": lf(replace(7, rows[7].replace(",dsl,", ',"dsl"x,'))),
        # A quoted field over the 1 MiB limit (records.MAX_FIELD_BYTES) ends its record, not the file.
        "huge_quoted_field.csv": lf(replace(6, rows[6].replace(",east,", ',"' + "a" * 1_100_000 + '",'))),
        "cr_only_line_endings.csv": lf(rows, end="\r"),
        "crlf_with_quoted_newline.csv": lf(replace(3, rows[3].replace(",north,", ',"no\r\nrth",')), end="\r\n"),
        "utf8_bom.csv": b"\xef\xbb\xbf" + lf(rows),
        "whitespace_lines_before_header.csv": b"\n   \n\t\r\n" + lf(rows),
        "blank_lines_between_rows.csv": lf(rows[:20] + ["", "  "] + rows[20:]),
        "thirty_thousand_fields.csv": lf(replace(9, rows[9] + ",x" * 30_000)),
        "short_and_long_rows.csv": lf(replace(2, rows[2].rsplit(",", 3)[0]))[:-1] + b"\n"
        + rows[4].encode() + b",extra,fields\n",
        # Two ids that differ only in an invalid byte: both quarantined, neither collapses into the other.
        "invalid_utf8_ids.csv": lf(rows).replace(b"C7-00000011,", b"C7-0000001\xff,")
        .replace(b"C7-00000012,", b"C7-0000001\xfe,"),
        "invalid_utf8_category.csv": lf(rows).replace(b"C7-00000013,20,78.77,1573.97,2,70.1,30,one-year",
                                                       b"C7-00000013,20,78.77,1573.97,2,70.1,30,one-y\xe9ar"),
        "duplicated_header.csv": lf(rows[:30] + [header] + rows[30:]),
        "all_contracts_upper_case.csv": lf([r.replace("month-to-month", "MONTH-TO-MONTH").replace(
            "one-year", "ONE-YEAR").replace("two-year", "TWO-YEAR") for r in rows]),
        "capitalised_target_labels.csv": lf([r[:-2] + "No" if r.endswith(",no") else
                                             r[:-3] + "Y" if r.endswith(",yes") and i % 3 == 0 else r
                                             for i, r in enumerate(rows)]),
        "header_only.csv": lf([]),
        "empty.csv": b"",
        "semicolon_delimited.csv": lf([r.replace(",", ";") for r in rows], head=header.replace(",", ";")),
        "latin1_header.csv": lf(rows, head=header + ",caf\xe9").decode("utf-8").encode("latin-1"),
        "utf16.csv": lf(rows).decode("utf-8").encode("utf-16"),
    }
    for name, data in cases.items():
        (HERE / name).write_bytes(data)
    print(f"{len(cases)} cases written to {HERE}")


if __name__ == "__main__":
    main()
