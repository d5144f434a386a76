"""`pip install .` where no C compiler works: findhash installs and runs on Python alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.test_deploy_image import copy_build_context

BROKEN_COMPILER = "#!/bin/sh\necho 'no C compiler on this machine' >&2\nexit 1\n"


def hide_the_compiler(folder: Path) -> dict[str, str]:
    """An environment whose cc and gcc fail, as on a machine without build tools."""
    folder.mkdir()
    for name in ("cc", "gcc", "x86_64-linux-gnu-gcc"):
        tool = folder / name
        tool.write_text(BROKEN_COMPILER)
        tool.chmod(0o755)
    path = f"{folder}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return {**os.environ, "PATH": path, "CC": str(folder / "gcc")}


def run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    finished = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert finished.returncode == 0, f"{command}\n{finished.stdout}\n{finished.stderr}"
    return finished.stdout + finished.stderr


def test_without_a_compiler_findhash_installs_and_works_on_python(tmp_path: Path) -> None:
    # The source tree without build outputs, as a fresh clone has it.
    source = copy_build_context(tmp_path / "context")
    env = hide_the_compiler(tmp_path / "no-compiler")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], env)
    python = str(venv / "bin" / "python")

    install_log = run([python, "-m", "pip", "install", "-v", "--no-cache-dir", "."], env, source)
    assert "native kernel could not be built" in install_log
    assert "installing the pure-Python implementation" in install_log

    bench = run([str(venv / "bin" / "findhash"), "bench", "--seconds", "0.3"], env)
    assert "available kernels: python" in bench
    assert "The native kernel is not built" in bench
    found = run([python, "-c", "import findhash; print(findhash.find('0ce').digest)"], env)
    assert found.splitlines()[0].startswith("0ce")
