"""The faults a run injects, and when: a schedule of events in seconds from the run's start."""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.harness.oracle import Expectation, RawItem


class Fault(enum.Enum):
    KILL_WORKER = "kill worker"  # SIGKILL: a crash or an OOM kill; the pod restarts it
    EVICT_WORKER = "evict worker"  # SIGTERM, then a replacement pod
    SCALE_DOWN = "scale down"  # SIGTERM, and the pod is gone for good
    SCALE_UP = "scale up"  # one more pod
    HANG_WORKER = "hang worker"  # SIGSTOP past the lease time, then SIGCONT
    KILL_REDIS = "kill redis"  # SIGKILL, then a restart from its files after a while
    START_REDIS = "start redis"  # a Redis that was down when the run began comes up
    CUT_CONNECTIONS = "cut connections"  # CLIENT KILL TYPE normal
    PUSH = "push items"  # not a fault: more items arriving mid-run


@dataclass(order=True)
class Event:
    at_s: float
    order: int
    fault: Fault = field(compare=False)
    duration_s: float = field(default=0.0, compare=False)
    items: Sequence[tuple[RawItem, Expectation]] = field(default=(), compare=False)


class Schedule:
    """Events ordered by time; ties keep the order in which they were added."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._order = itertools.count()

    def at(self, at_s: float, fault: Fault, duration_s: float = 0.0) -> Schedule:
        heapq.heappush(self._events, Event(at_s, next(self._order), fault, duration_s))
        return self

    def every(self, period_s: float, fault: Fault, start_s: float, until_s: float) -> Schedule:
        moment = start_s
        while moment < until_s:
            self.at(moment, fault)
            moment += period_s
        return self

    def push(self, at_s: float, items: Sequence[tuple[RawItem, Expectation]]) -> Schedule:
        event = Event(at_s, next(self._order), Fault.PUSH, items=items)
        heapq.heappush(self._events, event)
        return self

    def due(self, now_s: float) -> list[Event]:
        """Remove and return the events whose time has come."""
        events = []
        while self._events and self._events[0].at_s <= now_s:
            events.append(heapq.heappop(self._events))
        return events

    def postpone(self, event: Event) -> None:
        heapq.heappush(self._events, event)

    def pushes_left(self) -> int:
        return sum(1 for event in self._events if event.fault is Fault.PUSH)

    def drain(self) -> list[Event]:
        events, self._events = sorted(self._events), []
        return events
