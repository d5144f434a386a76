from __future__ import annotations

import itertools
import re
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findhash.errors import InvalidSpace
from findhash.space import DEFAULT_ALPHABET, Space, first_index_of_length

alphabets = st.lists(
    st.sampled_from(string.printable[:95]), min_size=2, max_size=95, unique=True
).map("".join)


def test_the_default_space_is_sha256_over_letters_and_digits_with_no_message() -> None:
    space = Space()
    assert (space.algorithm, space.message, space.max_length) == ("sha256", "", None)
    assert space.alphabet == string.ascii_letters + string.digits == DEFAULT_ALPHABET


def test_nonces_start_with_the_one_character_strings_in_alphabet_order() -> None:
    space = Space(alphabet="ab")
    assert [space.nonce(i) for i in range(8)] == ["a", "b", "aa", "ab", "ba", "bb", "aaa", "aab"]


def test_ordering_is_shortest_first_with_no_gaps_and_no_repeats() -> None:
    space = Space(alphabet="xyz")
    expected = [
        "".join(chars)
        for length in range(1, 5)
        for chars in itertools.product("xyz", repeat=length)
    ]
    assert [space.nonce(i) for i in range(len(expected))] == expected


@given(alphabet=alphabets, index=st.integers(min_value=0, max_value=10**30))
def test_index_and_nonce_round_trip(alphabet: str, index: int) -> None:
    space = Space(alphabet=alphabet)
    nonce = space.nonce(index)
    assert space.index_of(nonce) == index


@given(alphabet=alphabets, length=st.integers(min_value=1, max_value=12))
def test_each_length_begins_where_the_previous_one_ends(alphabet: str, length: int) -> None:
    space = Space(alphabet=alphabet)
    first = first_index_of_length(space.base, length)
    assert space.nonce(first) == alphabet[0] * length
    if first > 0:
        assert space.nonce(first - 1) == alphabet[-1] * (length - 1)


def test_candidates_are_the_message_followed_by_the_nonce() -> None:
    space = Space(message="hello ", alphabet="01")
    assert space.candidate(3) == "hello 01"


def test_a_finite_space_knows_its_size_and_refuses_indices_past_it() -> None:
    space = Space(alphabet="ab", max_length=2)
    assert space.size == 6
    assert space.nonce(5) == "bb"
    with pytest.raises(IndexError, match="past the end"):
        space.nonce(6)
    with pytest.raises(ValueError, match="longer than the maximum length 2"):
        space.index_of("aaa")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"alphabet": "a"}, "at least 2 characters"),
        ({"alphabet": "abca"}, "'a' more than once"),
        ({"alphabet": "ab\t"}, "U+0009"),
        ({"alphabet": "abé"}, "U+00E9"),
        ({"alphabet": 12}, "alphabet must be a string"),
        ({"max_length": 0}, "between 1 and 64, got 0"),
        ({"max_length": -3}, "got -3"),
        ({"max_length": 10**9}, "got 1000000000"),
        ({"max_length": "5"}, "must be an integer, not str"),
        ({"max_length": True}, "must be an integer, not bool"),
        ({"algorithm": "nope"}, "unknown hash algorithm 'nope'"),
        ({"algorithm": "shake_128"}, "no fixed digest length"),
        ({"message": b"bytes"}, "message must be a string, not bytes"),
        ({"message": "\ud800"}, "cannot be encoded as UTF-8"),
    ],
)
def test_bad_search_parameters_are_refused_naming_the_problem(
    params: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidSpace, match=re.escape(named)):
        Space(**params)


def test_the_key_identifies_equal_spaces_alike() -> None:
    assert Space(algorithm="SHA256").key == Space().key
    assert Space(message="x").key != Space().key
