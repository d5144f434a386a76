"""findhash: find short strings whose hash starts with given hex prefixes."""

from findhash.api import Answer, find, find_many
from findhash.space import DEFAULT_ALPHABET, Space

__all__ = ["DEFAULT_ALPHABET", "Answer", "Space", "find", "find_many"]
__version__ = "0.1.0"
