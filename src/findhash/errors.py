"""The exceptions findhash raises on purpose; anything else is a bug."""

from __future__ import annotations


class FindhashError(Exception):
    """Base class for every error findhash reports to its user."""


class InvalidTarget(FindhashError, ValueError):
    """A prefix that is not a hex string findhash can search for."""


class InfeasibleTarget(FindhashError, ValueError):
    """A valid prefix whose expected number of tries is beyond the configured cap."""


class InvalidSpace(FindhashError, ValueError):
    """Search parameters (algorithm, message, alphabet, maximum length) that cannot be used."""


class SpaceExhausted(FindhashError):
    """Every candidate of a finite space was tried without finding the prefix."""
