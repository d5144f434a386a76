from __future__ import annotations

import re

import pytest

from findhash.errors import InfeasibleTarget, InvalidSpace, InvalidTarget
from findhash.targets import parse_prefix


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0ce", "0ce"), ("BabaCa", "babaca"), ("  00000\n", "00000"), ("f" * 16, "f" * 16)],
)
def test_valid_prefixes_are_trimmed_and_lower_cased(text: str, expected: str) -> None:
    assert parse_prefix(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0x1f", "'x' at position 2"),
        ("12g4", "'g' at position 3"),
        ("ab cd", "U+0020 at position 3"),
        ("ab\x00", "U+0000 at position 3"),
        ("café", "'é' at position 4"),
    ],
)
def test_invalid_prefixes_are_refused_naming_the_problem(text: str, named: str) -> None:
    with pytest.raises(InvalidTarget, match=re.escape(named)):
        parse_prefix(text)


def test_a_prefix_longer_than_the_digest_names_both_lengths() -> None:
    with pytest.raises(InvalidTarget, match="65 hex digits long, but a sha256 digest has only 64"):
        parse_prefix("0" * 65, max_feasible_digits=None)


def test_digest_length_depends_on_the_algorithm() -> None:
    assert parse_prefix("a" * 32, "md5", max_feasible_digits=None) == "a" * 32
    with pytest.raises(InvalidTarget, match="md5 digest has only 32"):
        parse_prefix("a" * 33, "md5", max_feasible_digits=None)


def test_a_prefix_past_the_feasibility_cap_is_refused_with_its_expected_tries() -> None:
    with pytest.raises(InfeasibleTarget, match=r"17 hex digits needs 2.95e\+20 tries"):
        parse_prefix("0" * 17)
    assert parse_prefix("0" * 17, max_feasible_digits=20) == "0" * 17
    with pytest.raises(InfeasibleTarget, match="cap is 4 digits"):
        parse_prefix("00000", max_feasible_digits=4)


def test_non_string_prefixes_are_refused_by_type() -> None:
    with pytest.raises(InvalidTarget, match="not int"):
        parse_prefix(12)


def test_unknown_algorithms_are_refused_by_name() -> None:
    with pytest.raises(InvalidSpace, match="unknown hash algorithm 'sha257'"):
        parse_prefix("0ce", "sha257")
