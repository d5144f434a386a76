from __future__ import annotations

import hashlib
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import findhash
from findhash.engine import KernelUnavailable, Scanner, available_kernels, choose_kernel
from findhash.engine.reference import scan_reference
from findhash.errors import InvalidTarget, SpaceExhausted
from findhash.space import Space

ALGORITHMS = ["sha256", "sha1", "md5", "sha512", "sha3_256", "blake2b"]


def first_hits_by_brute_force(space: Space, prefixes: list[str], start: int, count: int):
    """The oracle of the oracle: hash every candidate from scratch, keep the first hit."""
    found: dict[str, tuple[int, str]] = {}
    for index in range(start, start + count):
        digest = hashlib.new(space.algorithm, space.candidate(index).encode()).hexdigest()
        for prefix in prefixes:
            if digest.startswith(prefix) and prefix not in found:
                found[prefix] = (index, digest)
    return found


@settings(max_examples=60, deadline=None)
@given(
    algorithm=st.sampled_from(ALGORITHMS),
    message=st.text(max_size=80),
    alphabet=st.sampled_from(["ab", "xyz", string.digits, string.ascii_letters + string.digits]),
    start=st.integers(min_value=0, max_value=5000),
    prefixes=st.lists(st.text("0123456789abcdef", min_size=1, max_size=3), min_size=1, max_size=6),
)
def test_the_reference_scan_finds_exactly_the_first_hits_for_any_algorithm(
    algorithm: str, message: str, alphabet: str, start: int, prefixes: list[str]
) -> None:
    space = Space(algorithm, message, alphabet)
    hashed, hits = scan_reference(space, prefixes, start, 300)
    assert hashed == 300
    expected = first_hits_by_brute_force(space, prefixes, start, 300)
    assert {prefix: (index, digest) for prefix, index, digest in hits} == expected


def test_stopping_when_all_are_found_stops_at_the_last_first_hit() -> None:
    space = Space()
    hashed, hits = scan_reference(space, ["0", "1"], 0, 10_000, stop_when_all_found=True)
    assert hashed == max(index for _, index, _ in hits) + 1


@pytest.mark.parametrize("kernel", available_kernels())
def test_every_kernel_agrees_with_the_reference_through_the_scanner(kernel: str) -> None:
    space = Space(message="findhash " * 9, alphabet="ab0")
    prefixes = ["0", "a1", "fff", "123", "0ce", "babaca"]
    result = Scanner(space, prefixes, kernel).scan(100, 20_000)
    expected = first_hits_by_brute_force(space, prefixes, 100, 20_000)
    assert {p: (h.index, h.digest) for p, h in result.hits.items()} == expected
    assert result.hashed == 20_000
    for hit in result.hits.values():
        assert hit.input == space.message + hit.nonce
        assert hashlib.sha256(hit.input.encode()).hexdigest() == hit.digest


def test_a_scan_stops_at_the_end_of_a_finite_space() -> None:
    space = Space(alphabet="ab", max_length=3)
    result = Scanner(space, ["ffff"]).scan(10, 100)
    assert result.hashed == 4 == (space.size or 0) - 10
    assert Scanner(space, ["ffff"]).scan(14, 100).hashed == 0


def test_kernels_are_chosen_by_name_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_kernel("python") == "python"
    monkeypatch.setenv("FINDHASH_KERNEL", "python")
    assert choose_kernel() == "python"
    assert choose_kernel(algorithm="md5") == "python"


def test_unknown_or_unsuitable_kernels_are_refused_with_the_reason() -> None:
    with pytest.raises(KernelUnavailable, match="unknown kernel 'sha-3000'"):
        choose_kernel("sha-3000")
    with pytest.raises(KernelUnavailable, match="sha256 only, not md5"):
        choose_kernel("portable", "md5")


def test_auto_picks_the_first_available_kernel_for_sha256() -> None:
    assert choose_kernel("auto") == available_kernels()[0]


def test_find_returns_a_verified_answer_with_its_index_and_tries() -> None:
    answer = findhash.find("0ce")
    assert answer.digest.startswith("0ce")
    assert hashlib.sha256(answer.input.encode()).hexdigest() == answer.digest
    assert findhash.Space().index_of(answer.nonce) == answer.index
    assert answer.tries == answer.index + 1


def test_answers_are_the_first_in_index_order_whatever_the_threads() -> None:
    answers = {findhash.find("abcd", threads=threads).index for threads in (1, 2, 3)}
    assert answers == {first_hits_by_brute_force(findhash.Space(), ["abcd"], 0, 200_000)["abcd"][0]}


def test_find_many_answers_in_the_order_given_with_duplicates_alike() -> None:
    answers = findhash.find_many(["0ce", "BABA", "0ce", "7"])
    assert [a.prefix for a in answers] == ["0ce", "baba", "0ce", "7"]
    assert answers[0] == answers[2]


def test_find_works_for_other_algorithms_and_messages() -> None:
    answer = findhash.find("abc", algorithm="sha3_256", message="hello ")
    assert answer.input.startswith("hello ")
    assert hashlib.sha3_256(answer.input.encode()).hexdigest().startswith("abc")


def test_a_bad_prefix_is_refused_before_any_search() -> None:
    with pytest.raises(InvalidTarget, match="'z' at position 1"):
        findhash.find_many(["0ce", "z"])


def test_an_exhausted_finite_space_says_how_many_candidates_it_tried() -> None:
    with pytest.raises(SpaceExhausted, match=r"up to 2 characters .* fffff \(6 candidates"):
        findhash.find("fffff", alphabet="ab", max_length=2)


def test_a_hit_hashlib_does_not_confirm_sends_the_range_to_the_python_implementation(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    space = Space()
    scanner = Scanner(space, ["0ce", "ab"], "python")
    wrong = (1, [("0ce", 5, "0ce" + "0" * 61)])
    # A kernel that reports a digest for index 5 that is not its digest.
    monkeypatch.setattr(scanner, "_native_targets", object())
    monkeypatch.setattr(scanner, "_scan_native", lambda start, count, stop: wrong)

    result = scanner.scan(0, 20_000)

    expected = first_hits_by_brute_force(space, ["0ce", "ab"], 0, 20_000)
    assert {p: (h.index, h.digest) for p, h in result.hits.items()} == expected
    assert result.hashed == 20_000
    assert "scanning the range again with the Python implementation" in caplog.text
