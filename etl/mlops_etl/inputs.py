"""What the job knows about its input before Spark reads it: the files, their checksum and the header line.

The checksum is streamed (constant memory) over the input's bytes; for a folder or S3 prefix, over its data
files in name order, the same files Spark reads (it skips names starting with "_" or ".").
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from typing import BinaryIO, Iterator
from urllib.parse import urlparse

from .errors import InputError
from .rules import SPACE

_CHUNK = 1 << 20
_BOM = "\ufeff"


@dataclass(frozen=True)
class InputInfo:
    uri: str
    files: tuple[str, ...]
    sha256: str
    size_bytes: int
    header_line: str | None  # first non-blank line of the first file, BOM and line ending removed


def _is_data_file(name: str) -> bool:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return bool(base) and not base.startswith(("_", "."))


def _local_files(path: str) -> list[str]:
    if os.path.isdir(path):
        return [os.path.join(path, n) for n in sorted(os.listdir(path))
                if _is_data_file(n) and os.path.isfile(os.path.join(path, n))]
    if os.path.isfile(path):
        return [path]
    raise InputError(f"input not found: {path}")


def _s3_client():  # boto3 is on Glue; locally it is only needed for s3:// inputs
    try:
        import boto3
    except ImportError as exc:
        raise InputError("reading s3:// input needs boto3 (present on Glue)") from exc
    return boto3.client("s3")


def _s3_files(uri: str) -> list[str]:
    parsed = urlparse(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    client = _s3_client()
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for obj in page.get("Contents", []):
            k = obj["Key"]
            if k == key:
                return [uri]  # the URI names an object, not a prefix
            rel = k[len(key):].lstrip("/")
            if not k.endswith("/") and all(_is_data_file(p) for p in rel.split("/")):
                keys.append(k)
    if not keys:
        raise InputError(f"input not found: {uri}")
    return [f"s3://{bucket}/{k}" for k in sorted(keys)]


def open_uri(uri: str) -> BinaryIO:
    """Opens a local path or an s3:// object for binary reading."""
    if uri.startswith(("s3://", "s3a://", "s3n://")):
        parsed = urlparse(uri)
        return _s3_client().get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"]
    return open(uri, "rb")


def _chunks(uri: str) -> Iterator[bytes]:
    stream = open_uri(uri)
    try:
        while chunk := stream.read(_CHUNK):
            yield chunk
    finally:
        stream.close()


def _strip_scheme(uri: str) -> str:
    return uri[len("file://"):] if uri.startswith("file://") else uri


def inspect_input(uri: str) -> InputInfo:
    """Lists the input's data files, streams them through SHA-256 and captures the header line."""
    is_s3 = uri.startswith(("s3://", "s3a://", "s3n://"))
    files = _s3_files(uri) if is_s3 else _local_files(_strip_scheme(uri))
    digest = hashlib.sha256()
    size = 0
    head = b""
    header: str | None = None
    for i, f in enumerate(files):
        for chunk in _chunks(f):
            digest.update(chunk)
            size += len(chunk)
            if i == 0 and header is None:
                head += chunk
                header = _first_line(head, complete=False)
        if i == 0 and header is None:
            header = _first_line(head, complete=True)
            head = b""
    return InputInfo(uri, tuple(files), digest.hexdigest(), size, header)


def _first_line(data: bytes, complete: bool) -> str | None:
    """The first non-blank line, or None if more bytes are needed (or, when complete, there is none)."""
    start = 0
    while True:
        ends = [e for e in (data.find(b"\n", start), data.find(b"\r", start)) if e >= 0]
        end = min(ends) if ends else -1  # a CR-only file ends its lines with CR alone
        if end < 0:
            if not complete:
                return None
            end = len(data)
        raw = data[start:end]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"input is not UTF-8 text (first line: {exc})") from exc
        line = line.removeprefix(_BOM)
        if line.strip(SPACE):
            return line
        if end >= len(data):
            return None
        start = end + 1


def parse_header(line: str) -> list[str]:
    """Column names of a CSV header line (RFC 4180 quoting), surrounding spaces removed."""
    return [name.strip(SPACE) for name in next(csv.reader([line]))]
