from __future__ import annotations

import os
from pathlib import Path

import pytest

from findhash import cpus


@pytest.fixture
def cgroup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cgroup files findhash reads at a temporary folder."""
    monkeypatch.setattr(cpus, "CGROUP_V2_CPU_MAX", tmp_path / "cpu.max")
    monkeypatch.setattr(cpus, "CGROUP_V1_QUOTA", tmp_path / "cfs_quota_us")
    monkeypatch.setattr(cpus, "CGROUP_V1_PERIOD", tmp_path / "cfs_period_us")
    return tmp_path


def test_a_cgroup_v2_limit_caps_the_threads_rounding_up(cgroup: Path) -> None:
    (cgroup / "cpu.max").write_text("150000 100000\n")
    assert cpus.cgroup_cpu_quota() == 1.5
    assert cpus.usable_cpus() == min(2, len(os.sched_getaffinity(0)))


def test_a_cgroup_v1_limit_is_read_when_there_is_no_v2_file(cgroup: Path) -> None:
    (cgroup / "cfs_quota_us").write_text("50000\n")
    (cgroup / "cfs_period_us").write_text("100000\n")
    assert cpus.cgroup_cpu_quota() == 0.5
    assert cpus.usable_cpus() == 1


def test_no_limit_leaves_the_cpus_the_process_may_run_on(cgroup: Path) -> None:
    (cgroup / "cpu.max").write_text("max 100000\n")
    assert cpus.cgroup_cpu_quota() is None
    assert cpus.usable_cpus() == len(os.sched_getaffinity(0))
