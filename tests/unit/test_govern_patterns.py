"""The footprint's "mentions" rule on DuckDB (RE2) and in files (Python re): pseudonyms as
whole tokens with Unicode letters, IDs as substrings."""

from __future__ import annotations

import re

import duckdb
import pytest

from syncline.catalog.query import mention_pattern

CASES = [  # (text, mentions p-1?)
    ("seen by p-1.", True), ("p-1", True), ('["p-1", "p-10"]', True), ("(p-1)", True),
    ("p-10", False), ("xp-1", False), ("p-1x", False), ("p-1_notes", False), ("top-1", False),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_a_pseudonym_is_a_whole_token_in_sql_and_in_files(text: str, expected: bool) -> None:
    sql = duckdb.sql("SELECT regexp_matches(?, ?)", params=[text, mention_pattern([], ["p-1"])]).fetchall()[0][0]
    files = re.search(mention_pattern([], ["p-1"], engine="python").encode(), text.encode()) is not None
    assert sql is expected and files is expected


def test_unicode_letters_are_part_of_a_word_in_sql() -> None:
    pattern = mention_pattern([], ["jos"])
    assert duckdb.sql("SELECT regexp_matches('josé', ?), regexp_matches('jos é', ?)",
                      params=[pattern, pattern]).fetchall() == [(False, True)]


def test_ids_match_anywhere_and_an_empty_pattern_matches_nothing() -> None:
    tok = "0123456789abcdef0123456789abcdef"
    hit = duckdb.sql("SELECT regexp_matches(?, ?)", params=["x" + tok + "y", mention_pattern([tok], [])]).fetchall()
    assert hit[0][0]
    assert not duckdb.sql("SELECT regexp_matches('anything', ?)", params=[mention_pattern([], [])]).fetchall()[0][0]
    assert re.search(mention_pattern([], [], engine="python"), "anything") is None
