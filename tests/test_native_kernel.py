"""The native scanner, kernel by kernel, against a plain hashlib loop over the same range."""

from __future__ import annotations

import hashlib
import string
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

native = pytest.importorskip("findhash.engine._native")

KERNELS = native.kernels()
UINT64_MAX = (1 << 64) - 1
PRINTABLE = bytes(range(0x20, 0x7F))
DEFAULT_ALPHABET = (string.ascii_letters + string.digits).encode()

# Lengths around block boundaries: where the padding or the nonce spills into another block.
BOUNDARY_LENGTHS = [0, 1, 31, 52, 53, 54, 55, 56, 57, 62, 63, 64, 65, 118, 119, 120, 121, 127, 128]

# More distinct targets than this are checked through the bitmap rather than one by one.
FEW_TARGETS = 8


def first_index_of_length(length: int, radix: int) -> int:
    """The index of the first nonce with `length` characters."""
    return sum(radix**k for k in range(1, length))


def nonce(index: int, alphabet: bytes) -> bytes:
    """The index-th string over the alphabet, shortest first (bijective base N)."""
    radix = len(alphabet)
    length = 1
    while index >= first_index_of_length(length + 1, radix):
        length += 1
    offset = index - first_index_of_length(length, radix)
    chars = []
    for _ in range(length):
        offset, digit = divmod(offset, radix)
        chars.append(alphabet[digit])
    return bytes(reversed(chars))


def digests(message: bytes, alphabet: bytes, start: int, count: int) -> list[bytes]:
    return [
        hashlib.sha256(message + nonce(i, alphabet)).digest() for i in range(start, start + count)
    ]


def expected_hits(
    all_digests: list[bytes], start: int, prefixes: list[str]
) -> list[tuple[int, int, bytes]]:
    """The first hit of every prefix position, by position, as scan reports them."""
    hexes = [digest.hex() for digest in all_digests]
    hits = []
    for position, prefix in enumerate(prefixes):
        for offset, hex_digest in enumerate(hexes):
            if hex_digest.startswith(prefix):
                hits.append((position, start + offset, all_digests[offset]))
                break
    return hits


def assert_every_kernel_matches(
    message: bytes, alphabet: bytes, start: int, count: int, prefixes: list[str]
) -> None:
    all_digests = digests(message, alphabet, start, count)
    expected = expected_hits(all_digests, start, prefixes)
    targets = native.Targets(prefixes)
    for kernel in KERNELS:
        hashed, hits = native.scan(kernel, message, alphabet, start, count, targets)
        assert (kernel, hashed) == (kernel, count)
        assert (kernel, hits) == (kernel, expected)


# Strategies ------------------------------------------------------------------

alphabets = st.lists(st.sampled_from(PRINTABLE), min_size=2, max_size=95, unique=True).map(bytes)
small_alphabets = st.lists(st.sampled_from(PRINTABLE), min_size=2, max_size=5, unique=True).map(
    bytes
)
message_lengths = st.one_of(st.sampled_from(BOUNDARY_LENGTHS), st.integers(0, 300))
hex_digits = st.text(alphabet="0123456789abcdef", min_size=1, max_size=64)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    length = draw(message_lengths)
    return draw(st.binary(min_size=length, max_size=length))


@st.composite
def ranges(draw: st.DrawFn, alphabet: bytes, max_count: int) -> tuple[int, int]:
    """A range that usually crosses from one nonce length to the next."""
    radix = len(alphabet)
    count = draw(st.integers(0, max_count))
    length = draw(st.integers(1, 4 if radix > 20 else 8))
    boundary = first_index_of_length(length, radix)
    start = max(0, boundary - draw(st.integers(0, max(count, 1))))
    return start, count


@st.composite
def prefixes_for(draw: st.DrawFn, all_digests: list[bytes], max_targets: int) -> list[str]:
    """Prefixes of every length: some cut from digests in the range, some random."""
    prefixes = draw(st.lists(hex_digits, max_size=max_targets // 2))
    for _ in range(draw(st.integers(0, max_targets - len(prefixes)))):
        if not all_digests:
            break
        digest = draw(st.sampled_from(all_digests)).hex()
        prefixes.append(digest[: draw(st.integers(1, 64))])
    return draw(st.permutations(prefixes))


def fitting_scan_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# Kernel selection and self-test ----------------------------------------------


def test_kernels_are_named_best_first_and_always_include_portable():
    assert KERNELS[-1] == "portable"
    order = ("sha-ni", "avx2", "portable")
    assert list(KERNELS) == [name for name in order if name in KERNELS]


@pytest.mark.parametrize("kernel", KERNELS)
def test_every_kernel_passes_its_self_test(kernel):
    assert native.self_test(kernel) is True


def test_self_test_rejects_an_unknown_kernel():
    with pytest.raises(ValueError, match="unknown kernel"):
        native.self_test("sse9")


# Differential tests ----------------------------------------------------------


@fitting_scan_settings(examples=300)
@given(data=st.data(), message=messages(), alphabet=alphabets)
def test_scan_finds_exactly_the_first_hits_hashlib_finds(data, message, alphabet):
    start, count = data.draw(ranges(alphabet, max_count=200))
    all_digests = digests(message, alphabet, start, count)
    prefixes = data.draw(prefixes_for(all_digests, max_targets=FEW_TARGETS))
    expected = expected_hits(all_digests, start, prefixes)
    targets = native.Targets(prefixes)
    for kernel in KERNELS:
        assert native.scan(kernel, message, alphabet, start, count, targets) == (count, expected)


@fitting_scan_settings(examples=150)
@given(data=st.data(), message=messages(), alphabet=small_alphabets)
def test_many_targets_go_through_the_bitmap_without_a_miss_or_a_false_hit(data, message, alphabet):
    start, count = data.draw(ranges(alphabet, max_count=300))
    all_digests = digests(message, alphabet, start, count)
    prefixes = data.draw(prefixes_for(all_digests, max_targets=120))
    prefixes += [f"{i:08x}" for i in range(FEW_TARGETS + 1)]
    expected = expected_hits(all_digests, start, prefixes)
    targets = native.Targets(prefixes)
    for kernel in KERNELS:
        assert native.scan(kernel, message, alphabet, start, count, targets) == (count, expected)


@fitting_scan_settings(examples=150)
@given(data=st.data(), message=messages(), alphabet=alphabets, many=st.booleans())
def test_stopping_once_all_are_found_reports_the_first_hits_of_what_was_hashed(
    data, message, alphabet, many
):
    start, count = data.draw(ranges(alphabet, max_count=200))
    all_digests = digests(message, alphabet, start, count)
    prefixes = [digest.hex()[: data.draw(st.integers(1, 3))] for digest in all_digests[::40]]
    if many:
        prefixes += [digest.hex()[:2] for digest in all_digests[: 2 * FEW_TARGETS]]
    targets = native.Targets(prefixes)
    for kernel in KERNELS:
        hashed, hits = native.scan(kernel, message, alphabet, start, count, targets, True)
        assert 0 <= hashed <= count
        assert hits == expected_hits(all_digests[:hashed], start, prefixes)
        if len(hits) < len(prefixes):
            assert hashed == count
        else:
            # Candidates are hashed in small batches, so the scan ends within one of them.
            last_first_hit = max((index for _, index, _ in hits), default=start - 1)
            assert hashed - (last_first_hit + 1 - start) < 64


def test_every_target_length_from_1_to_64_digits_is_matched_exactly():
    message, alphabet, start, count = b"findhash", b"0123456789", 500, 600
    all_digests = digests(message, alphabet, start, count)
    prefixes = [all_digests[(7 * length) % count].hex()[:length] for length in range(1, 65)]
    # The same prefixes with their last digit changed: almost none of them can hit.
    prefixes += [p[:-1] + "0123456789abcdef"[(int(p[-1], 16) + 1) % 16] for p in prefixes]
    assert_every_kernel_matches(message, alphabet, start, count, prefixes)
    assert_every_kernel_matches(message, alphabet, start, count, prefixes[60:64])


@pytest.mark.parametrize("length", [*BOUNDARY_LENGTHS, 191, 192, 250])
def test_message_lengths_around_block_boundaries(length):
    message = bytes((7 * i + 3) % 256 for i in range(length))
    alphabet = b"ab"
    start = first_index_of_length(6, 2) - 40
    all_digests = digests(message, alphabet, start, 100)
    prefixes = [d.hex()[:6] for d in all_digests[::9]] + [d.hex() for d in all_digests[::13]]
    assert_every_kernel_matches(message, alphabet, start, 100, prefixes)


def test_a_message_over_a_megabyte_is_hashed_through_its_midstate():
    message = bytes(range(256)) * 4500 + b"tail"
    start, count = 3000, 40
    all_digests = digests(message, DEFAULT_ALPHABET, start, count)
    prefixes = [d.hex()[:10] for d in all_digests[::5]]
    assert_every_kernel_matches(message, DEFAULT_ALPHABET, start, count, prefixes)


@pytest.mark.parametrize("message_length", [0, 55, 63, 64])
def test_the_last_64_bit_indices_with_64_character_nonces(message_length):
    message = b"m" * message_length
    count = 50
    start = UINT64_MAX - count
    all_digests = digests(message, b"01", start, count)
    assert len(nonce(start + count - 1, b"01")) == 64
    prefixes = [d.hex()[:5] for d in all_digests[::7]] + [all_digests[-1].hex()]
    assert_every_kernel_matches(message, b"01", start, count, prefixes)


def test_duplicate_prefixes_are_each_reported_at_their_position():
    all_digests = digests(b"", DEFAULT_ALPHABET, 0, 300)
    first = all_digests[17].hex()[:4]
    prefixes = [first, "f", first, "f", first[:2]]
    targets = native.Targets(prefixes)
    assert len(targets) == 5
    expected = expected_hits(all_digests, 0, prefixes)
    assert [position for position, _, _ in expected] == [0, 1, 2, 3, 4]
    for kernel in KERNELS:
        assert native.scan(kernel, b"", DEFAULT_ALPHABET, 0, 300, targets) == (300, expected)


@pytest.mark.parametrize("kernel", KERNELS)
def test_empty_ranges_and_empty_target_lists(kernel):
    some = native.Targets(["abc"])
    none = native.Targets([])
    assert len(none) == 0
    assert native.scan(kernel, b"x", b"ab", 10, 0, some) == (0, [])
    assert native.scan(kernel, b"x", b"ab", 10, 100, none) == (100, [])
    assert native.scan(kernel, b"x", b"ab", 10, 100, none, stop_when_all_found=True) == (0, [])


@pytest.mark.parametrize("kernel", KERNELS)
def test_threads_scanning_at_once_get_what_they_get_alone(kernel):
    prefixes = [f"{i:03x}" for i in range(0, 4096, 37)]
    targets = native.Targets(prefixes)
    ranges_ = [(i * 20_000, 20_000) for i in range(4)]
    alone = [native.scan(kernel, b"t", DEFAULT_ALPHABET, s, c, targets) for s, c in ranges_]
    together: list[object] = [None] * len(ranges_)

    def work(slot: int) -> None:
        start, count = ranges_[slot]
        together[slot] = native.scan(kernel, b"t", DEFAULT_ALPHABET, start, count, targets)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(len(ranges_))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == alone


# Argument checking -----------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "0cG", "ABC", "0x1", " 1", "1" * 65, "é"])
def test_targets_reject_a_malformed_prefix_by_name(bad):
    with pytest.raises(ValueError, match="invalid prefix"):
        native.Targets(["0ce", bad])


@pytest.mark.parametrize("bad", ["0ce", b"0ce", ["0ce", 12], None])
def test_targets_need_a_sequence_of_str(bad):
    with pytest.raises(TypeError):
        native.Targets(bad)


def test_targets_accept_every_length_from_1_to_64():
    assert len(native.Targets(["f" * n for n in range(1, 65)])) == 64


def scan_args(**changes: object) -> dict[str, object]:
    args: dict[str, object] = {
        "kernel": "portable",
        "message": b"",
        "alphabet": b"ab",
        "start": 0,
        "count": 10,
        "targets": native.Targets(["0"]),
    }
    args.update(changes)
    return args


@pytest.mark.parametrize(
    "changes",
    [
        {"kernel": "sse9"},
        {"alphabet": b"a"},
        {"alphabet": b""},
        {"alphabet": b"aba"},
        {"alphabet": b"ab\n"},
        {"alphabet": b"ab\x7f"},
        {"alphabet": b"ab\xff"},
        {"alphabet": PRINTABLE + b"a"},
    ],
)
def test_scan_rejects_bad_kernels_and_alphabets(changes):
    with pytest.raises(ValueError):
        native.scan(**scan_args(**changes))


def test_scan_accepts_all_95_printable_characters_as_alphabet():
    assert native.scan(**scan_args(alphabet=PRINTABLE))[0] == 10


@pytest.mark.parametrize(
    "changes",
    [
        {"start": -1},
        {"count": -1},
        {"start": 1 << 64},
        {"start": UINT64_MAX, "count": 1},
        {"start": 1 << 63, "count": 1 << 63},
    ],
)
def test_scan_rejects_ranges_outside_64_bits(changes):
    with pytest.raises(OverflowError):
        native.scan(**scan_args(**changes))


def test_scan_accepts_a_range_ending_at_the_last_64_bit_value():
    hashed, _ = native.scan(**scan_args(start=UINT64_MAX - 3, count=3))
    assert hashed == 3


def test_scan_needs_a_targets_object():
    with pytest.raises(TypeError):
        native.scan(**scan_args(targets=["0"]))
