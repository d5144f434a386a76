"""Queue items and the records written about them, shared by both backends.

An item is a plain hex prefix (`0ce`) or a JSON object with a `prefix` and
optional search parameters. Items are judged here, in Python, and only here: the
Redis scripts receive verdicts, never raw rules, so that both backends and the
command line agree on what is valid.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from findhash.engine.scanner import Hit
from findhash.errors import InfeasibleTarget, InvalidSpace, InvalidTarget
from findhash.space import Space
from findhash.targets import parse_prefix

log = logging.getLogger(__name__)

# Failed records keep at most this many characters of the item, so that one
# enormous item cannot bloat the list the command line prints.
ITEM_EXCERPT_CHARS = 200
SPACE_ID_HEX_CHARS = 20
ITEM_FIELDS = ("prefix", "algorithm", "message", "alphabet", "max_length")

INVALID = "invalid"
INFEASIBLE = "infeasible"
EXHAUSTED = "exhausted"
POISON = "poison"


@dataclass(frozen=True)
class Admitted:
    """A valid item: the prefix to find in `space`."""

    space: Space
    space_id: str
    prefix: str
    stub: str
    """JSON object text naming the item; a failure record later adds its reason to it."""


@dataclass(frozen=True)
class Rejected:
    """An item that cannot be searched for; `record` is its failed record without a time."""

    record: str


@functools.lru_cache(maxsize=256)
def space_id(space: Space) -> str:
    """A short, stable name for a space, used inside the queue's own keys and rows."""
    return hashlib.sha256(space.key.encode("utf-8")).hexdigest()[:SPACE_ID_HEX_CHARS]


# Thousands of items usually share a handful of spaces; building and checking a
# Space each time would cost more than all the rest of an intake.
@functools.lru_cache(maxsize=256)
def _space(params: tuple[tuple[str, type, Any], ...]) -> Space:
    return Space(**{key: value for key, _, value in params})


def _space_of(params: dict[str, Any]) -> Space:
    # The key holds each value's type: True, 1.0 and 1 are equal as keys, but only
    # 1 is a valid max_length, and a cache hit must not admit the others.
    try:
        return _space(tuple(sorted((key, type(value), value) for key, value in params.items())))
    except TypeError:
        # A list or object where a text or number belongs: unhashable, so not
        # cached; Space names the problem.
        return Space(**params)


def judge(raw: str | bytes, max_feasible_digits: int | None) -> Admitted | Rejected:
    """Decide whether an item can be searched for, and in which space."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            shown = raw.decode("utf-8", errors="replace")
            return _rejected(shown, INVALID, f"item is not valid UTF-8 text ({error.reason})")
        raw = text
    try:
        space, prefix = _parse(raw, max_feasible_digits)
    except InfeasibleTarget as error:
        return _rejected(raw, INFEASIBLE, str(error))
    except (InvalidTarget, InvalidSpace) as error:
        return _rejected(raw, INVALID, str(error))
    except Exception as error:
        # Anything else is a gap in the checks above. An item that raises here would
        # otherwise crash every worker that takes its batch, again and again, so it
        # is failed with what went wrong, and the gap is logged for a person to close.
        log.exception("Checking an item raised unexpectedly; failing it as invalid.")
        return _rejected(raw, INVALID, f"item could not be checked ({type(error).__name__})")
    stub = _excerpt(raw)
    stub["prefix"] = prefix
    return Admitted(space=space, space_id=space_id(space), prefix=prefix, stub=dump(stub))


def _parse(raw: str, max_feasible_digits: int | None) -> tuple[Space, str]:
    if not raw.lstrip().startswith("{"):
        space = _space(())
        return space, parse_prefix(raw, space.algorithm, max_feasible_digits)
    try:
        fields = json.loads(raw)
    except RecursionError:
        raise InvalidTarget("item looks like JSON but is nested too deeply to parse") from None
    except ValueError as error:
        # Besides syntax errors, json raises a plain ValueError for a number too long to convert.
        raise InvalidTarget(f"item looks like JSON but does not parse: {error}") from error
    if not isinstance(fields, dict):
        raise InvalidTarget("a JSON item must be an object")
    unknown = sorted(set(fields) - set(ITEM_FIELDS))
    if unknown:
        raise InvalidTarget(
            f"JSON item has unknown field {unknown[0]!r}; known fields: {', '.join(ITEM_FIELDS)}"
        )
    if "prefix" not in fields:
        raise InvalidTarget("JSON item has no 'prefix' field")
    # A null parameter means the default, as if the field were left out.
    params = {key: value for key, value in fields.items() if key != "prefix" and value is not None}
    space = _space_of(params)
    return space, parse_prefix(fields["prefix"], space.algorithm, max_feasible_digits)


def _rejected(raw: str, kind: str, reason: str) -> Rejected:
    record = _excerpt(raw)
    record["kind"] = kind
    record["reason"] = reason
    return Rejected(record=dump(record))


def _excerpt(raw: str) -> dict[str, Any]:
    if len(raw) <= ITEM_EXCERPT_CHARS:
        return {"item": raw}
    return {"item": raw[:ITEM_EXCERPT_CHARS] + "...", "item_length": len(raw)}


def hit_body(hit: Hit, space: Space) -> str:
    """The part of a result record that every item solved by this hit shares."""
    return dump(
        {
            "prefix": hit.prefix,
            "index": hit.index,
            "nonce": hit.nonce,
            "input": hit.input,
            "digest": hit.digest,
            "algorithm": hit.algorithm,
            "space": space.to_dict(),
        }
    )


def offered_hits(space: Space, start: int, hits: Mapping[str, Hit]) -> list[dict[str, Any]]:
    """What a report passes on about each hit: prefix, offset in the chunk, record body.

    The offset (index - start + 1, at least 1) lets the queue count the tries up
    to the hit within its chunk. A hit that does not check out is logged and
    dropped: a kernel defect may cost time, never a wrong record.
    """
    offered = []
    for hit in hits.values():
        try:
            check_hit(hit, space)
        except ValueError as error:
            log.error("Dropped a hit that is not an answer: %s", error)
            continue
        offset = max(1, hit.index - start + 1)
        offered.append({"prefix": hit.prefix, "offset": offset, "body": hit_body(hit, space)})
    return offered


def check_hit(hit: Hit, space: Space) -> None:
    """Refuse a hit that is not an answer: records are only ever written for true answers."""
    candidate = space.candidate(hit.index)
    digest = hashlib.new(space.algorithm, candidate.encode("utf-8")).hexdigest()
    if candidate != hit.input or digest != hit.digest or not digest.startswith(hit.prefix):
        raise ValueError(
            f"hit for {hit.prefix} at index {hit.index} does not check out:"
            f" {space.algorithm}({candidate!r}) is {digest}"
        )


def exhausted_reason(size: int) -> str:
    return f"space exhausted after {size} candidates without finding the prefix"


def dump(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


def load(text: str | bytes) -> dict[str, Any]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    record: dict[str, Any] = json.loads(text)
    return record


def splice(object_text: str, fields: dict[str, Any]) -> str:
    """Put `fields` in front of a JSON object's own, as the Redis scripts do."""
    return "{" + dump(fields)[1:-1] + "," + object_text[1:]


def failure_fields(kind: str, reason: str, now_ms: int) -> dict[str, Any]:
    return {"kind": kind, "reason": reason, "failed_at": now_ms}


POISON_REASON = (
    "poison: part of the space was set aside after repeated failed attempts,"
    " so it cannot be searched completely"
)
