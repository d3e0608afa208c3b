"""The input's records, found on its bytes before Spark sees them: nothing is lost while parsing.

Spark's CSV reader, given a stray quote, folds every following line up to the next quote into one field, and the
rows it swallowed were never counted. This module reads the raw bytes itself, with RFC 4180's rules
(https://www.rfc-editor.org/rfc/rfc4180 section 2: fields separated by commas; a field may be enclosed in double
quotes, and then may hold commas, line breaks and doubled quotes `""`), plus the usual leniencies of CSV
writers: LF, CRLF or CR line endings, a UTF-8 byte order mark, a quote inside an unquoted field taken literally.

Every physical line is accounted for: it is blank (empty or whitespace only, skipped and counted), a header line
(the first non-blank record of each file), or part of exactly one data record; `ScanReport.check()` verifies
`physical lines == blank + header lines + record lines` against a separate count of line terminators.

A record that cannot be parsed as one row is not guessed at: it becomes an `unparseable_record` with its file,
byte offset and line, and reading resumes on the line after the record's first line, so one bad quote costs one
row, not the rest of the file. That happens when
  - a closing quote is followed by something other than a comma or the end of the line;
  - the file ends inside a quoted value;
  - a field is longer than MAX_FIELD_BYTES (a runaway quote ends its record, not the file);
  - a quoted value spans lines but the record then has the wrong number of fields (an unbalanced quote, not a
    real multi-line value).
A record with valid syntax whose bytes are not UTF-8 is `invalid_encoding` (no U+FFFD substitution: two ids
differing in a bad byte must not collapse into one); a one-line record with the wrong number of fields is
`wrong_column_count`.

The records go to a JSON Lines file (one record per line, so Spark reads it split and in parallel, with no CSV
parsing left to disagree about): `{"r": row number, "p": problem, "d": detail, "f": file, "l": line,
"o": byte offset, "v": [field texts in the first file's header order]}`.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections import deque
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterable, Iterator, Sequence

from .errors import InputError
from .rules import SPACE

# A field (quoted or not) longer than this ends its record as `unparseable_record`. 1 MiB: far above any real
# value of a tabular dataset (a 1,000,000-byte free-text field still passes), small enough that a runaway
# quote costs at most this much re-reading.
MAX_FIELD_BYTES = 1 << 20
# The text of an unparseable record kept in the quarantine (the file, line and byte offset locate the rest).
MAX_QUARANTINED_TEXT = MAX_FIELD_BYTES

UNPARSEABLE = "unparseable_record"
INVALID_ENCODING = "invalid_encoding"
WRONG_COUNT = "wrong_column_count"

_QUOTE = ord('"')
_COMMA = ord(",")
_BOM = codecs.BOM_UTF8
_SPACE_BYTES = SPACE.encode("ascii")
_LONE_CR = re.compile(rb"\r(?!\n)")
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Line:
    """One physical line: its bytes without the terminator, the terminator, where it starts."""

    data: bytes
    end: bytes  # b"\n", b"\r\n", b"\r" or b"" (last line without a terminator)
    offset: int  # byte offset in its file
    number: int  # 1-based line number in its file


def physical_lines(stream: BinaryIO, offset: int = 0) -> Iterator[Line]:
    """Splits a byte stream at LF, CRLF and lone CR (a CR-only file is old Mac text, not one long line).
    `offset` is where the stream starts in its file (after a byte order mark)."""
    number = 0
    pending = b""
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            break
        data = pending + chunk
        # A CR at the chunk's end may be the first half of a CRLF: keep it for the next round.
        cut = len(data) - 1 if data.endswith(b"\r") else len(data)
        pos = 0
        for m in re.finditer(rb"\r\n|\r|\n", data[:cut]):
            number += 1
            yield Line(data[pos:m.start()], m.group(), offset + pos, number)
            pos = m.end()
        pending = data[pos:]
        offset += pos
    if pending:
        if pending.endswith(b"\r"):
            number += 1
            yield Line(pending[:-1], b"\r", offset, number)
        else:
            number += 1
            yield Line(pending, b"", offset, number)


def _is_blank(data: bytes) -> bool:
    return not data.strip(_SPACE_BYTES)


class _Violation(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class _Tokenizer:
    """RFC 4180 fields of one record, fed line by line; raises _Violation when the record cannot be parsed."""

    def __init__(self, limit: int):
        self.limit = limit
        self.fields: list[bytes] = []
        self.cur = bytearray()
        self.in_quotes = False
        self.multiline = False

    def feed(self, line: bytes, end: bytes) -> bool:
        """Consumes one physical line; True when the record is complete, False when a quoted value goes on."""
        pos, n = 0, len(line)
        while True:
            if self.in_quotes:
                q = line.find(b'"', pos)
                if q < 0:
                    self.cur += line[pos:]
                    self.cur += end
                    self._check_length()
                    if not end:
                        raise _Violation("the input ends inside a quoted value (unterminated quote)")
                    self.multiline = True
                    return False
                self.cur += line[pos:q]
                self._check_length()
                if q + 1 < n and line[q + 1] == _QUOTE:  # "" is one literal quote
                    self.cur += b'"'
                    pos = q + 2
                    continue
                self.in_quotes = False
                pos = q + 1
                self.fields.append(bytes(self.cur))
                self.cur = bytearray()
                if pos == n:
                    return True
                if line[pos] != _COMMA:
                    raise _Violation(f"field {len(self.fields)}: text after its closing quote "
                                     f"({line[pos:pos + 20]!r}); a quote inside a quoted value must be doubled")
                pos += 1
                continue
            # At the start of a field.
            if pos < n and line[pos] == _QUOTE:
                self.in_quotes = True
                pos += 1
                continue
            comma = line.find(b",", pos)
            value = line[pos:] if comma < 0 else line[pos:comma]
            if len(value) > self.limit:
                raise _Violation(f"field {len(self.fields) + 1} is longer than {self.limit:,} bytes")
            self.fields.append(value)
            if comma < 0:
                return True
            pos = comma + 1

    def _check_length(self) -> None:
        if len(self.cur) > self.limit:
            raise _Violation(f"quoted field {len(self.fields) + 1} is longer than {self.limit:,} bytes "
                             f"(a quote that is never closed?)")


@dataclass
class RawRecord:
    """One record as found in the bytes: where it is, its fields (None if unparseable), its problem."""

    line: int
    offset: int
    lines: int
    raw: bytes
    fields: list[bytes] | None
    problem: str | None = None
    detail: str | None = None


def split_records(lines: Iterable[Line], limit: int = MAX_FIELD_BYTES,
                  width: Callable[[], int | None] = lambda: None) -> Iterator[RawRecord | Line]:
    """Physical lines -> records, with blank lines passed through (as Line) between records.

    `width()` is the header's field count once known: a record whose quoted value spans lines but which does
    not have that many fields is cut back to its first line (an unbalanced quote, not a multi-line value).
    """
    queue: deque[Line] = deque()
    source = iter(lines)

    def next_line() -> Line | None:
        if queue:
            return queue.popleft()
        return next(source, None)

    while True:
        first = next_line()
        if first is None:
            return
        if _is_blank(first.data):
            yield first
            continue
        used = [first]
        tok = _Tokenizer(limit)
        line = first
        try:
            while not tok.feed(line.data, line.end):
                following = next_line()
                if following is None:
                    raise _Violation("the input ends inside a quoted value (unterminated quote)")
                used.append(following)
                line = following
            expected = width()
            if len(used) > 1 and expected is not None and len(tok.fields) != expected:
                raise _Violation(f"a quoted value spans {len(used)} lines and leaves {len(tok.fields)} fields, "
                                 f"not {expected} (an unbalanced quote?)")
        except _Violation as v:
            # Cut back to the first line; the lines after it are read again as records of their own.
            for later in reversed(used[1:]):
                queue.appendleft(later)
            yield RawRecord(first.number, first.offset, 1, first.data, None, UNPARSEABLE, v.detail)
            continue
        raw = b"".join(u.data + u.end for u in used[:-1]) + used[-1].data
        yield RawRecord(first.number, first.offset, len(used), raw, tok.fields)


def _decode_fields(fields: Sequence[bytes]) -> tuple[list[str], str | None]:
    """(texts, None) or, on invalid UTF-8, (texts with the bad bytes as \\xNN escapes, detail)."""
    try:
        return [f.decode("utf-8") for f in fields], None
    except UnicodeDecodeError:
        pass
    detail = None
    out = []
    for k, f in enumerate(fields):
        try:
            out.append(f.decode("utf-8"))
        except UnicodeDecodeError as exc:
            if detail is None:
                detail = (f"field {k + 1} is not UTF-8: byte 0x{f[exc.start]:02x} at position {exc.start} of "
                          f"the field; re-save the file as UTF-8")
            out.append(f.decode("utf-8", "backslashreplace"))
    return out, detail


@dataclass
class FileReport:
    name: str
    header_line: int | None = None
    blank_lines_before_header: int = 0
    blank_lines: int = 0  # all blank lines, before the header included
    physical_lines: int = 0  # counted as the lines are read, apart from how they are grouped into records
    header_lines: int = 0
    record_lines: int = 0
    records: int = 0


@dataclass
class ScanReport:
    """What the byte-level pass found; `records` is the count Spark's rows must match."""

    header: tuple[str, ...] | None = None
    files: list[FileReport] = field(default_factory=list)
    records: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    multiline_records: int = 0

    def check(self) -> None:
        """Every physical line is a blank line, a header line or part of one record (else the scan is wrong)."""
        for f in self.files:
            if f.physical_lines != f.blank_lines + f.header_lines + f.record_lines:
                raise AssertionError(f"line accounting of {f.name}: {f.physical_lines} lines, but {f.blank_lines} "
                                     f"blank + {f.header_lines} header + {f.record_lines} in records")

    def manifest(self) -> dict:
        return {
            "records": self.records,
            "multiLineRecords": self.multiline_records,
            "problems": dict(sorted(self.problems.items())),
            "maxFieldBytes": MAX_FIELD_BYTES,
            "files": [{"name": f.name, "headerLine": f.header_line, "blankLinesBeforeHeader":
                       f.blank_lines_before_header, "blankLines": f.blank_lines, "physicalLines": f.physical_lines,
                       "records": f.records} for f in self.files],
        }


def count_physical_lines(stream: BinaryIO) -> int:
    """Line terminators (LF, CRLF, lone CR) plus a final unterminated line, without splitting anything."""
    total = 0
    last = b""
    tail_cr = False
    while chunk := stream.read(_READ_CHUNK):
        if tail_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the CRLF split across chunks was counted at its CR
        total += chunk.count(b"\n") + len(_LONE_CR.findall(chunk))
        # A CR ending the chunk was counted as a lone CR; if a LF starts the next chunk it is skipped there.
        tail_cr = chunk.endswith(b"\r")
        if chunk:
            last = chunk[-1:]
    return total + (1 if last and last not in (b"\n", b"\r") else 0)


def scan(files: Sequence[str], opener: Callable[[str], BinaryIO], on_header: Callable[[list[str]], object],
         sink: Callable[[bytes], None], limit: int = MAX_FIELD_BYTES) -> ScanReport:
    """Reads every file's records, checks each file's header with on_header (raises InputError to stop) and
    writes the JSON Lines records to sink. The first file's header sets the column order; later files may
    order their columns differently but must have the same names."""
    report = ScanReport()
    number = 0
    buffer: list[str] = []
    size = [0]

    def emit(obj: dict) -> None:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        buffer.append(text)
        size[0] += len(text)
        if size[0] >= _READ_CHUNK:
            flush()

    def flush() -> None:
        if buffer:
            sink(("\n".join(buffer) + "\n").encode("utf-8"))
            buffer.clear()
            size[0] = 0

    for path in files:
        name = os.path.basename(path.rstrip("/")) or path
        fr = FileReport(name)
        report.files.append(fr)
        order: list[int] | None = None
        width = 0
        with opener(path) as stream:
            head = stream.read(len(_BOM))
            start = len(head) if head == _BOM else 0

            class _Rest:
                """The stream with the BOM (if any) consumed."""

                def __init__(self) -> None:
                    self.first = head[start:]

                def read(self, n: int) -> bytes:
                    if self.first:
                        out, self.first = self.first, b""
                        return out
                    return stream.read(n)

            def counted(lines: Iterator[Line], report: FileReport = fr) -> Iterator[Line]:
                for line in lines:
                    report.physical_lines += 1
                    yield line

            for item in split_records(counted(physical_lines(_Rest(), start)), limit, lambda: width or None):
                if isinstance(item, Line):
                    fr.blank_lines += 1
                    if fr.header_line is None:
                        fr.blank_lines_before_header += 1
                    continue
                if fr.header_line is None:
                    fr.header_line = item.line
                    fr.header_lines = item.lines
                    if item.fields is None:
                        raise InputError(f"{name}: the header (line {item.line}) cannot be parsed: {item.detail}")
                    names, bad = _decode_fields(item.fields)
                    if bad:
                        raise InputError(f"{name}: input is not UTF-8 text (header, line {item.line}: {bad})")
                    names = [n.strip(SPACE) for n in names]
                    if report.header is None:
                        on_header(names)
                        report.header = tuple(names)
                    elif sorted(names) != sorted(report.header):
                        raise InputError(f"{name}: its header {names} differs from the first file's "
                                         f"{list(report.header)}; every file needs the same columns")
                    width = len(names)
                    order = [names.index(c) for c in report.header]
                    continue
                number += 1
                fr.records += 1
                fr.record_lines += item.lines
                if item.lines > 1:
                    report.multiline_records += 1
                problem, detail = item.problem, item.detail
                values: list[str]
                if item.fields is None:
                    text = item.raw[:MAX_QUARANTINED_TEXT].decode("utf-8", "backslashreplace")
                    if len(item.raw) > MAX_QUARANTINED_TEXT:
                        text += f"…[truncated: {len(item.raw):,} bytes at byte {item.offset}]"
                    values = [text]
                else:
                    texts, bad = _decode_fields(item.fields)
                    if bad:
                        problem, detail = INVALID_ENCODING, bad
                    elif len(texts) != width:
                        problem = WRONG_COUNT
                        detail = f"{len(texts)} fields, the header has {width}"
                    if len(texts) == width:
                        values = [texts[i] for i in order]
                    elif len(texts) > width:  # the extra fields stay visible in the last column
                        values = texts[:width - 1] + [",".join(texts[width - 1:])]
                    else:
                        values = texts
                if problem:
                    report.problems[problem] = report.problems.get(problem, 0) + 1
                emit({"r": number, "p": problem, "d": detail, "f": name, "l": item.line, "o": item.offset,
                      "v": values})
        flush()
    report.records = number
    return report
