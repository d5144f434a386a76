"""How many CPUs this process may really use: affinity and container limits included."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def usable_cpus() -> int:
    """The CPUs this process may run on, capped by a container's CPU quota, at least 1."""
    if hasattr(os, "sched_getaffinity"):
        allowed = len(os.sched_getaffinity(0))
    else:
        allowed = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    if quota is not None:
        # A limit of 1.5 CPUs still runs two threads at three quarters speed,
        # which beats one thread at full speed for a throughput job.
        allowed = min(allowed, max(1, math.ceil(quota)))
    return max(1, allowed)


def cgroup_cpu_quota() -> float | None:
    """The container's CPU limit in CPUs, or None when there is none."""
    try:
        quota_text, period_text = CGROUP_V2_CPU_MAX.read_text().split()[:2]
        if quota_text == "max":
            return None
        return int(quota_text) / int(period_text)
    except (OSError, ValueError):
        pass
    try:
        quota = int(CGROUP_V1_QUOTA.read_text())
        period = int(CGROUP_V1_PERIOD.read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None
