"""The search engine: scan ranges of a candidate space against many prefixes at once."""

from findhash.engine.kernels import (
    KERNEL_CHOICES,
    KERNEL_ENV,
    KernelUnavailable,
    available_kernels,
    choose_kernel,
)
from findhash.engine.scanner import Hit, KernelError, Scanner, ScanResult

__all__ = [
    "KERNEL_CHOICES",
    "KERNEL_ENV",
    "Hit",
    "KernelError",
    "KernelUnavailable",
    "ScanResult",
    "Scanner",
    "available_kernels",
    "choose_kernel",
]
