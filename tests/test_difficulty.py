from __future__ import annotations

import math

import pytest

from findhash.difficulty import (
    expected_tries,
    expected_tries_all,
    probability_after,
    tries_for_probability,
    tries_until_all_found,
)


def test_expected_tries_is_sixteen_to_the_number_of_digits() -> None:
    assert expected_tries(1) == 16
    assert expected_tries(5) == 16**5


@pytest.mark.parametrize("digits", [1, 3, 8, 16, 40])
@pytest.mark.parametrize("probability", [0.5, 0.9, 0.99])
def test_tries_for_a_probability_inverts_probability_after(digits: int, probability: float) -> None:
    tries = tries_for_probability(digits, probability)
    assert probability_after(digits, tries) == pytest.approx(probability, rel=1e-9)


def test_the_median_is_about_ln2_of_the_mean_for_long_prefixes() -> None:
    assert tries_for_probability(8, 0.5) == pytest.approx(math.log(2) * 16**8, rel=1e-6)


def test_one_try_of_a_one_digit_prefix_succeeds_one_time_in_sixteen() -> None:
    assert probability_after(1, 1) == pytest.approx(1 / 16)
    assert probability_after(3, 0) == 0.0


def test_expected_tries_for_one_prefix_matches_the_mean() -> None:
    assert expected_tries_all([6]) == pytest.approx(16**6, rel=1e-3)


def test_many_equal_prefixes_cost_the_harmonic_number_times_one() -> None:
    harmonic = sum(1 / k for k in range(1, 10_001))
    assert expected_tries_all([5] * 10_000) == pytest.approx(harmonic * 16**5, rel=1e-2)


def test_the_hardest_prefix_dominates_a_mixed_set() -> None:
    assert expected_tries_all([2, 3, 7]) == pytest.approx(16**7, rel=1e-2)
    assert expected_tries_all([]) == 0.0


def test_tries_until_all_found_matches_one_prefix_alone() -> None:
    for probability in (0.5, 0.9, 0.99):
        assert tries_until_all_found([7], probability) == pytest.approx(
            tries_for_probability(7, probability), rel=1e-4
        )


def test_tries_until_all_found_grows_with_the_number_of_prefixes() -> None:
    one, many = tries_until_all_found([5], 0.9), tries_until_all_found([5] * 1000, 0.9)
    # All of n equal prefixes within t tries: (1 - exp(-t/16**5))**n = 0.9.
    expected = -math.log(1 - 0.9 ** (1 / 1000)) * 16**5
    assert many == pytest.approx(expected, rel=1e-4)
    assert many > one
    assert tries_until_all_found([], 0.5) == 0.0
