"""Which hashing implementation scans: detection, self-test, and the user's choice.

The native extension offers SHA-256 on SHA-NI, AVX2 and portable C; the plain
Python implementation over hashlib serves every algorithm and is the fallback
when the extension was not built. The choice is made once per process and
kernel, checked by a known-answer self-test, and logged by name.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from types import ModuleType

from findhash.errors import FindhashError

log = logging.getLogger(__name__)

KERNEL_ENV = "FINDHASH_KERNEL"
AUTO = "auto"
PYTHON = "python"
NATIVE_KERNELS = ("sha-ni", "avx2", "portable")
KERNEL_CHOICES = (AUTO, *NATIVE_KERNELS, PYTHON)


class KernelUnavailable(FindhashError):
    """The requested kernel cannot run here: not built, not supported, or failed its self-test."""


def _load_native() -> tuple[ModuleType | None, str]:
    try:
        return importlib.import_module("findhash.engine._native"), ""
    except ImportError as error:
        return None, str(error)


native, native_import_error = _load_native()


def available_kernels() -> tuple[str, ...]:
    """Every kernel this machine can run, best first, ending with the Python one."""
    compiled: tuple[str, ...] = native.kernels() if native is not None else ()
    return (*compiled, PYTHON)


@functools.cache
def passes_self_test(kernel: str) -> bool:
    """Run the kernel's known-answer test once per process."""
    if kernel == PYTHON:
        return True
    assert native is not None
    passed = bool(native.self_test(kernel))
    if not passed:
        log.error("Kernel %s failed its known-answer self-test; it will not be used.", kernel)
    return passed


def choose_kernel(requested: str | None = None, algorithm: str = "sha256") -> str:
    """Return the kernel to use for `algorithm`: the one requested, or the best that works.

    `requested` falls back to the FINDHASH_KERNEL environment variable, then to auto.
    """
    name = (requested or os.environ.get(KERNEL_ENV) or AUTO).strip().lower()
    if name not in KERNEL_CHOICES:
        raise KernelUnavailable(
            f"unknown kernel {name!r}: choose one of {', '.join(KERNEL_CHOICES)}"
        )
    if name == AUTO:
        return _best_kernel(algorithm)
    if name != PYTHON:
        _check_native_kernel(name, algorithm)
    _log_choice(name, "requested")
    return name


def _best_kernel(algorithm: str) -> str:
    if algorithm != "sha256":
        return PYTHON
    if native is None:
        _warn_native_missing()
        return PYTHON
    kernel: str
    for kernel in native.kernels():
        if passes_self_test(kernel):
            _log_choice(kernel, "detected")
            return kernel
    return PYTHON


def _check_native_kernel(name: str, algorithm: str) -> None:
    if algorithm != "sha256":
        raise KernelUnavailable(f"kernel {name} computes sha256 only, not {algorithm}")
    if native is None:
        raise KernelUnavailable(
            f"kernel {name} is not available: the native extension was not built"
            f" ({native_import_error})"
        )
    if name not in native.kernels():
        raise KernelUnavailable(
            f"kernel {name} is not supported by this CPU;"
            f" available: {', '.join(available_kernels())}"
        )
    if not passes_self_test(name):
        raise KernelUnavailable(f"kernel {name} failed its known-answer self-test")


@functools.cache
def _log_choice(kernel: str, how: str) -> None:
    log.info("Hashing with the %s kernel (%s).", kernel, how)


@functools.cache
def _warn_native_missing() -> None:
    log.warning(
        "The native kernel is not built (%s); hashing with the slower Python implementation.",
        native_import_error,
    )
