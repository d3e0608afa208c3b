"""Value rules shared by the Spark job and the pandas encoder, so both give bit-identical features.

Spark evaluates these as SQL expressions (transforms.py); encode_records.py applies the same rules in pandas.
Keep the two in step: tests/etl/test_encode_records.py compares them row by row.
"""

from __future__ import annotations

import hashlib

# Characters trimmed from both ends of every value (space, tab, LF, CR, form feed, vertical tab).
SPACE = " \t\n\r\f\v"

# A plain decimal number. Java's parser (Spark's cast) would also take "1d", "0x1p3" or "Infinity"; Python's
# float() would take "1_000" or "inf". Only what both parse identically counts as numeric. Spark checks it as
# "only NUMBER_CHARS, and Java parses it", which for strings of these characters is the same language.
NUMBER_REGEX = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
NUMBER_CHARS = "0123456789+-.eE"

# Why a row was quarantined, in the order they are checked: a row gets the first that applies.
REASONS = (
    "unparseable_record",  # the bytes cannot be read as one CSV row (bad quoting, over-long field): records.py
    "invalid_encoding",    # the record is not valid UTF-8
    "wrong_column_count",  # the CSV record has more or fewer fields than the header
    "missing_id",          # the schema declares an id column and the row has none
    "null_target",         # empty target
    "invalid_target",      # target is neither target.positive nor target.negative
    "missing_required",    # a required feature is empty
    "non_numeric",         # a numeric feature holds text that is not a plain decimal number (or overflows)
    "out_of_range",        # a numeric feature is outside the schema's [min, max]
    "duplicate_id",        # an earlier row (by row number) has the same id
)

SPLITS = ("train", "validation", "test")

# Hex digits of the MD5 used for the split: 13 digits = 52 bits, so hash / 2**52 is an exact double in [0, 1).
HASH_HEX_DIGITS = 13
HASH_SCALE = float(2 ** (4 * HASH_HEX_DIGITS))


def split_key(seed: int, key: str) -> str:
    """The string hashed for split membership: the seed, a colon, and the id (or the row number)."""
    return f"{seed}:{key}"


def split_hash(seed: int, key: str) -> int:
    return int(hashlib.md5(split_key(seed, key).encode("utf-8")).hexdigest()[:HASH_HEX_DIGITS], 16)


def split_of(seed: int, key: str, train: float, validation: float) -> str:
    """Which split a row with this id (or row number) lands in; the Spark job computes the same."""
    u = split_hash(seed, key) / HASH_SCALE
    if u < train:
        return "train"
    if u < train + validation:
        return "validation"
    return "test"
