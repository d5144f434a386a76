"""How many tries a prefix needs: the mean, and the tries for a given chance of success.

Each try finds an L-digit prefix with probability p = 16**-L, independently, so
the number of tries until success is geometric. The mean hides how much luck
varies, which is why estimates are given as tries (or time) to 50, 90 and 99 %.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

REPORTED_PROBABILITIES = (0.5, 0.9, 0.99)


def success_chance_per_try(digits: int) -> float:
    """Probability that one candidate's digest starts with a given `digits`-digit prefix."""
    return 16.0**-digits


def expected_tries(digits: int) -> float:
    """Mean number of tries to find a `digits`-digit prefix: 16**digits."""
    return 16.0**digits


def probability_after(digits: int, tries: float) -> float:
    """Chance that a `digits`-digit prefix is found within `tries` tries."""
    if tries <= 0:
        return 0.0
    p = success_chance_per_try(digits)
    # 1 - (1 - p)**t, computed without losing p when it is far below 1e-16.
    return -math.expm1(tries * math.log1p(-p))


def tries_for_probability(digits: int, probability: float) -> float:
    """Tries needed to find a `digits`-digit prefix with the given chance of success."""
    if not 0.0 <= probability < 1.0:
        raise ValueError(f"probability must be in [0, 1), got {probability}")
    p = success_chance_per_try(digits)
    return math.log1p(-probability) / math.log1p(-p)


def expected_tries_all(digit_lengths: Iterable[int]) -> float:
    """Mean tries until every prefix of a set is found, when one scan serves them all.

    That is the mean of the largest of the prefixes' waiting times, which the
    hardest few dominate: 10,000 five-digit prefixes cost about ten times one.
    """
    counts = Counter(digit_lengths)
    if not counts:
        return 0.0
    return _expected_maximum(counts)


def _expected_maximum(counts: Mapping[int, int]) -> float:
    """E[max of independent exponentials], integrated numerically over a log grid.

    Tries per prefix are geometric with tiny p, so an exponential with rate p is an
    accurate model. P(max <= t) = prod (1 - exp(-p_i t))**n_i; the mean is the
    integral of 1 - that over t >= 0.
    """
    slowest = max(expected_tries(digits) for digits in counts)
    total_items = sum(counts.values())
    # Past this point every prefix is found with overwhelming probability.
    upper = slowest * (math.log(total_items) + 40.0)
    steps = 4000
    lower = min(expected_tries(digits) for digits in counts) * 1e-6
    ratio = (upper / lower) ** (1.0 / steps)
    area = lower
    previous_t, previous_tail = lower, _tail(counts, lower)
    for step in range(1, steps + 1):
        t = lower * ratio**step
        tail = _tail(counts, t)
        area += (t - previous_t) * (tail + previous_tail) / 2.0
        previous_t, previous_tail = t, tail
    return area


def _tail(counts: Mapping[int, int], tries: float) -> float:
    """P(max > tries): the chance that some prefix is still unfound after `tries`."""
    log_all_found = 0.0
    for digits, n in counts.items():
        found = -math.expm1(-tries * success_chance_per_try(digits))
        if found <= 0.0:
            return 1.0
        log_all_found += n * math.log(found)
    return -math.expm1(log_all_found)


def tries_until_all_found(digit_lengths: Iterable[int], probability: float) -> float:
    """Tries after which every prefix of a set is found with the given chance."""
    counts = Counter(digit_lengths)
    if not counts:
        return 0.0
    low, high = 0.0, max(expected_tries(digits) for digits in counts)
    while _tail(counts, high) > 1.0 - probability:
        high *= 2.0
    # Bisect until the bounds agree to about nine significant digits.
    for _ in range(200):
        middle = (low + high) / 2.0
        if _tail(counts, middle) > 1.0 - probability:
            low = middle
        else:
            high = middle
        if high - low <= high * 1e-9:
            break
    return high
