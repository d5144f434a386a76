"""Build findhash's native SHA-256 scanner, or install without it.

Each instruction-set kernel is its own compilation unit, built with the flags
that unit needs and linked into the one extension; CPU detection at import
decides which of them run. When the extension cannot be built at all, findhash
installs anyway and hashes with its pure-Python implementation.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import (
    CCompilerError,
    CompileError,
    ExecError,
    FileError,
    PlatformError,
)

NATIVE_DIR = Path("src", "findhash", "engine", "native")
PORTABLE_SOURCES = [
    "module.c",
    "scan.c",
    "targets.c",
    "selftest.c",
    "cpu.c",
    "sha256_portable.c",
]
# Source, flags and the macro that tells module.c the kernel is linked in.
ISA_KERNELS = [
    ("sha256_shani.c", ["-msha", "-msse4.1", "-mssse3"], "FINDHASH_HAVE_SHANI"),
    ("sha256_avx2.c", ["-mavx2"], "FINDHASH_HAVE_AVX2"),
]
BUILD_ERRORS = (
    CCompilerError,
    CompileError,
    ExecError,
    FileError,
    PlatformError,
    OSError,
    ValueError,
)
X86_MACHINES = {"x86_64", "amd64", "i386", "i686", "x86"}


def native_path(name: str) -> str:
    return str(NATIVE_DIR / name)


def warn(message: str) -> None:
    print(f"findhash: {message}", file=sys.stderr)


class BuildNative(build_ext):
    """build_ext that compiles each ISA kernel with its flags and never fails the install."""

    def run(self) -> None:
        try:
            super().run()
        except BUILD_ERRORS as error:
            self._give_up(error)

    def build_extension(self, ext: Extension) -> None:
        try:
            self._add_isa_kernels(ext)
            super().build_extension(ext)
        except BUILD_ERRORS as error:
            self._give_up(error)
            # Nothing was built, so later steps (the in-place copy, the outputs) must skip it.
            self.extensions = [other for other in self.extensions if other is not ext]

    def _give_up(self, error: BaseException) -> None:
        warn(
            f"native kernel could not be built ({error}); installing the pure-Python implementation"
        )

    def _optimize_flags(self) -> list[str]:
        return ["/O2"] if self.compiler.compiler_type == "msvc" else ["-O3"]

    def _builds_isa_kernels(self) -> bool:
        # The kernels use GCC-style flags and x86 intrinsics; other targets get portable C.
        is_x86 = platform.machine().lower() in X86_MACHINES
        return is_x86 and self.compiler.compiler_type in ("unix", "mingw32", "cygwin")

    def _add_isa_kernels(self, ext: Extension) -> None:
        ext.extra_compile_args = [*self._optimize_flags(), *ext.extra_compile_args]
        if not self._builds_isa_kernels():
            return
        for source, flags, macro in ISA_KERNELS:
            try:
                objects = self.compiler.compile(
                    [native_path(source)],
                    output_dir=self.build_temp,
                    macros=[(macro, "1")],
                    include_dirs=[str(NATIVE_DIR)],
                    extra_postargs=[*self._optimize_flags(), *flags],
                    depends=ext.depends,
                )
            except BUILD_ERRORS as error:
                warn(f"{source} could not be compiled ({error}); building without it")
                continue
            ext.extra_objects.extend(objects)
            ext.define_macros.append((macro, "1"))


native_extension = Extension(
    "findhash.engine._native",
    sources=[native_path(name) for name in PORTABLE_SOURCES],
    depends=[str(path) for path in sorted(NATIVE_DIR.glob("*.[ch]"))],
    include_dirs=[str(NATIVE_DIR)],
)

setup(ext_modules=[native_extension], cmdclass={"build_ext": BuildNative})
