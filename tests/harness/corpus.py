"""Items for fault runs: random prefixes, a ballast item that sets a run's length, and bad input.

A run must last long enough for its faults to strike, yet hashing is fast and
luck varies. So each run carries a *ballast* item: a prefix that no candidate of
a small finite space matches, which is therefore settled (as exhausted) only
after every candidate was hashed. Its space is sized from the measured hashing
rate, so a run lasts about as long as asked on any machine and any kernel.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import string
import time
from dataclasses import replace

from findhash.engine import Scanner
from findhash.space import Space, first_index_of_length
from tests.harness.oracle import Expectation, Fail, RawItem, Solve, plain

# Sixteen digits is the default feasibility cap: allowed, yet never matched by chance.
BALLAST_PREFIX = "f00dfeedbeefcafe"
BALLAST_ALPHABET = string.digits + string.ascii_letters + string.punctuation
CALIBRATION_S = 0.3
# Long enough that no other candidate of a needle's space matches by chance.
NEEDLE_DIGITS = 12


@functools.cache
def hashes_per_second() -> float:
    """One thread's hashing rate with the kernel workers will choose, over a short sample."""
    scanner = Scanner(Space(), [BALLAST_PREFIX])
    count, elapsed_s = 1 << 14, 0.0
    while elapsed_s < CALIBRATION_S:
        count *= 2
        started = time.perf_counter()
        scanner.scan(0, count)
        elapsed_s = time.perf_counter() - started
    return count / elapsed_s


def ballast(hashes: int, tag: str) -> tuple[str, Expectation]:
    """An item settled, as exhausted, only after about `hashes` hashes; `tag` sets it apart."""
    for length in range(2, 12):
        base = max(2, round(hashes ** (1 / length)))
        if base <= len(BALLAST_ALPHABET):
            break
    alphabet = BALLAST_ALPHABET[:base]
    size = first_index_of_length(base, length + 1)
    message = f"ballast {tag} {size} "
    item = _json(prefix=BALLAST_PREFIX, message=message, alphabet=alphabet, max_length=length)
    return item, Fail(("exhausted",))


def needle(hashes: int, tag: str, rng: random.Random) -> tuple[str, Expectation]:
    """A valid item in a finite space of about `hashes` candidates, with an answer planted late.

    Its prefix is the first digits of the digest of a candidate in the space's last
    half, so an answer exists: if the queue ever declared this space exhausted, a
    chunk was skipped, and the oracle would see a valid item failed.
    """
    item, _ = ballast(hashes, f"needle {tag}")
    fields = json.loads(item)
    space = Space(**{key: value for key, value in fields.items() if key != "prefix"})
    assert space.size is not None
    planted = space.candidate(rng.randrange(space.size // 2, space.size))
    prefix = hashlib.sha256(planted.encode()).hexdigest()[:NEEDLE_DIGITS]
    solve = Solve(prefix, message=space.message, alphabet=space.alphabet)
    return _json(**{**fields, "prefix": prefix}), replace(solve, max_length=space.max_length)


def ballast_for(seconds: float, workers: int, cpus: int, tag: str) -> tuple[str, Expectation]:
    """A ballast item that keeps `workers` single-threaded workers busy for about `seconds`."""
    return ballast(int(hashes_per_second() * min(workers, cpus) * seconds), tag)


def needle_for(
    seconds: float, workers: int, cpus: int, tag: str, rng: random.Random
) -> tuple[str, Expectation]:
    """A needle whose space takes `workers` workers about `seconds` to sweep."""
    return needle(int(hashes_per_second() * min(workers, cpus) * seconds), tag, rng)


def random_prefixes(rng: random.Random, count: int, digits: tuple[int, int]) -> list[str]:
    """`count` distinct random hex prefixes, a few in upper case, lengths in `digits` inclusive."""
    prefixes: set[str] = set()
    while len(prefixes) < count:
        length = rng.randint(*digits)
        prefixes.add("".join(rng.choice("0123456789abcdef") for _ in range(length)))
    ordered = sorted(prefixes)
    rng.shuffle(ordered)
    return [p.upper() if n % 7 == 3 else p for n, p in enumerate(ordered)]


def solvable(prefixes: list[str]) -> list[tuple[RawItem, Expectation]]:
    return [(prefix, plain(prefix)) for prefix in prefixes]


def _json(**fields: object) -> str:
    return json.dumps(fields)


def unsolvable_in_one_character() -> tuple[str, Expectation]:
    """A valid item whose space (single characters) surely holds no answer: it is exhausted."""
    space = Space(max_length=1)
    digests = [hashlib.sha256(space.candidate(i).encode()).hexdigest() for i in range(space.base)]
    prefix = next(
        p for p in ("ffffff", "eeeeee", "dddddd") if not any(d.startswith(p) for d in digests)
    )
    return _json(prefix=prefix, max_length=1), Fail(("exhausted",))


def bad_items() -> list[tuple[RawItem, Expectation]]:
    """Items that must each land in failed, with the words their reason must contain."""
    return [(item, Fail(words)) for item, words in _bad_items_and_reasons()]


def _bad_items_and_reasons() -> list[tuple[RawItem, tuple[str, ...]]]:
    hex_only = ("hex",)
    deep = '{"prefix": "0ce", "message": ' + "[" * 100_000 + "]" * 100_000 + "}"
    return [
        ("0cg", hex_only),
        ("xyz", hex_only),
        ("", ("empty",)),
        ("   ", ("empty",)),
        ("\t\r\n", ("empty",)),
        ("0x0ce", hex_only),
        ("0XABC", hex_only),
        ("0ce 1ab", hex_only),
        ("0" * 65, ("64",)),
        ("a" * 200, ("64",)),
        ("0" * 17, ("feasib",)),
        ("abcdef" * 6, ("feasib",)),
        ("0cé", hex_only),
        ("0c\x00e", ("U+0000",)),
        ("0ce\x1b[31m", ("U+001B",)),
        ("\u202e0ce", hex_only),
        ("0" * (1 << 20), ("64",)),
        (b"0ce\xff\xfe", ("UTF-8",)),
        ('{"prefix": 12}', ("string",)),
        ('{"prefix": null}', ("string",)),
        ('{"prefix": ["0ce"]}', ("string",)),
        ("[1,2]", hex_only),
        ('"0ce"', hex_only),
        ("{}", ("prefix",)),
        ('{"prefix": "0ce"', ("JSON",)),
        ('{"prefix": "0ce",}', ("JSON",)),
        (deep, ("JSON",)),
        ('{"prefix": "0ce", "max_length": 1' + "0" * 5000 + "}", ("JSON",)),
        (_json(prefix="0ce", colour="blue"), ("colour",)),
        (_json(prefix="0ce", algorithm="sha3000"), ("sha3000",)),
        (_json(prefix="0ce", algorithm="shake_128"), ("digest length",)),
        (_json(prefix="0ce", algorithm=256), ("algorithm",)),
        (_json(prefix="0" * 41, algorithm="sha1"), ("40",)),
        (_json(prefix="0ce", alphabet="aab"), ("more than once",)),
        (_json(prefix="0ce", alphabet="aé"), ("ASCII",)),
        (_json(prefix="0ce", alphabet="a"), ("at least 2",)),
        (_json(prefix="0ce", alphabet=""), ("at least 2",)),
        (_json(prefix="0ce", alphabet=7), ("alphabet",)),
        (_json(prefix="0ce", message={"a": 1}), ("message",)),
        (_json(prefix="0ce", message="\ud800"), ("message",)),
        (_json(prefix="0ce", message="m" * ((1 << 20) + 1)), ("message",)),
        (_json(prefix="0ce", max_length=-1), ("max_length",)),
        (_json(prefix="0ce", max_length=0), ("max_length",)),
        (_json(prefix="0ce", max_length=10**30), ("max_length",)),
        (_json(prefix="0ce", max_length="4"), ("max_length",)),
        (_json(prefix="0ce", max_length=True), ("max_length",)),
        (_json(prefix="0ce", max_length=2.5), ("max_length",)),
        ('{"prefix": "0ce", "max_length": NaN}', ("max_length",)),
    ]


def valid_odd_items() -> list[tuple[RawItem, Expectation]]:
    """Valid items in unusual but allowed forms, each with what it must be solved as."""
    return [
        (" 0CE ", Solve("0ce")),
        ("0ce", Solve("0ce")),
        ("0ce", Solve("0ce")),
        ('{"prefix": "ABC"}', Solve("abc")),
        (_json(prefix="0ce", algorithm=None, max_length=None), Solve("0ce")),
        (_json(prefix="1a", algorithm="sha1"), Solve("1a", algorithm="sha1")),
        (_json(prefix="fe", algorithm=" MD5 "), Solve("fe", algorithm="md5")),
        (
            _json(prefix="b0", message="héllo ", alphabet="xyz"),
            Solve("b0", message="héllo ", alphabet="xyz"),
        ),
        (
            _json(prefix="77", alphabet="01", max_length=20),
            Solve("77", alphabet="01", max_length=20),
        ),
        unsolvable_in_one_character(),
    ]
