"""The Redis queue's keys and its Lua scripts, loaded once per client.

Each state change is one script in `lua/`, with a header naming its keys,
arguments and return values. Helpers the scripts share live in `lua/_*.lua` and
are pasted in where a script says `--@include`, so that Redis still receives one
self-contained script per operation.
"""

from __future__ import annotations

import re
from importlib import resources

import redis

# The queue's keys, in the order every script receives them (see lua/_keys.lua).
KEY_SUFFIXES = (
    "",
    ":processing",
    ":results",
    ":failed",
    ":poison",
    ":intake",
    ":intake:deadlines",
    ":leases",
    ":leases:expiry",
    ":returned",
    ":spaces",
    ":space:state",
    ":active",
    ":targets",
    ":target",
    ":finished",
    ":outstanding",
    ":cohorts:cycling",
    ":cohorts:closing",
    ":cohort",
    ":cohort:members",
    ":workers",
    ":workers:seen",
    ":stats",
    ":space:changes",
)
SCRIPT_NAMES = ("claim", "admit", "report", "release", "renew", "heartbeat")

_INCLUDE = re.compile(r"^--@include (\S+)$", re.MULTILINE)


def queue_keys(name: str) -> list[str]:
    return [name + suffix for suffix in KEY_SUFFIXES]


def key_of(name: str, suffix: str) -> str:
    if suffix not in KEY_SUFFIXES:
        raise KeyError(f"the queue has no key ending in {suffix!r}")
    return name + suffix


def script_source(script: str) -> str:
    """The text of `lua/<script>.lua` with its includes pasted in."""
    folder = resources.files("findhash.queue") / "lua"

    def paste(match: re.Match[str]) -> str:
        return (folder / match.group(1)).read_text(encoding="utf-8")

    return _INCLUDE.sub(paste, (folder / f"{script}.lua").read_text(encoding="utf-8"))


def register_scripts(client: redis.Redis) -> dict[str, redis.commands.core.Script]:
    """Register every script with `client`; redis-py loads each on first use and after a restart."""
    return {script: client.register_script(script_source(script)) for script in SCRIPT_NAMES}
