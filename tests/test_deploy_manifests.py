"""The Kubernetes manifests in deploy/kubernetes.

They must be valid for the API server, and shaped as findhash needs them: workers in a
work-queue Job whose interruptions do not count as failures, a Redis that keeps every
acknowledged write, passwords only from Secrets, settings only from the ConfigMap, and
locked-down pods that only workers and labelled clients may connect to Redis from.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import redis
import yaml

from tests.redis_server import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
KUBERNETES_DIR = REPO_ROOT / "deploy" / "kubernetes"

# The oldest Kubernetes with everything the worker Job uses (podFailurePolicy is stable
# from 1.31), and the newest one the validator ships schemas for.
KUBERNETES_VERSIONS = ("1.31", kubernetes_validate.latest_version())

CLIENT_LABELS = {"findhash/redis-client": "true"}
WORKER_CONTAINER = "worker"
SECRET_LOOKING = re.compile(r"PASS|SECRET|TOKEN|AUTH|CREDENTIAL", re.IGNORECASE)
VARIABLE_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Document:
    path: Path
    body: Manifest

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def is_keda(self) -> bool:
        return str(self.body["apiVersion"]).startswith("keda.sh/")

    @property
    def is_example(self) -> bool:
        return self.path.name.endswith(".example.yaml")

    def __str__(self) -> str:
        return f"{self.path.relative_to(KUBERNETES_DIR)}:{self.kind}/{self.name}"


def load_documents() -> list[Document]:
    documents = []
    for path in sorted(KUBERNETES_DIR.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for body in yaml.safe_load_all(path.read_text()):
            if body:
                documents.append(Document(path, body))
    return documents


DOCUMENTS = load_documents()


def find(kind: str, name: str) -> Manifest:
    matches = [doc.body for doc in DOCUMENTS if doc.kind == kind and doc.name == name]
    assert len(matches) == 1, f"expected one {kind} named {name}, found {len(matches)}"
    return matches[0]


def worker_job() -> Manifest:
    return find("Job", "findhash-worker")


def scaled_job() -> Manifest:
    return find("ScaledJob", "findhash-worker-autoscaled")


def config_map() -> Manifest:
    return find("ConfigMap", "findhash-config")


def redis_statefulset() -> Manifest:
    return find("StatefulSet", "redis")


def main_network_policy() -> Manifest:
    return find("NetworkPolicy", "redis-clients-only")


def pod_templates(body: Manifest) -> Iterator[Manifest]:
    """The pod templates (metadata and spec) that a manifest creates pods from."""
    kind = body["kind"]
    if kind == "Pod":
        yield body
    elif kind in ("Job", "StatefulSet", "Deployment", "DaemonSet"):
        yield body["spec"]["template"]
    elif kind == "ScaledJob":
        yield body["spec"]["jobTargetRef"]["template"]


def all_pod_templates() -> list[tuple[str, Manifest]]:
    return [(str(doc), template) for doc in DOCUMENTS for template in pod_templates(doc.body)]


def containers(pod_spec: Manifest) -> list[Manifest]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec["containers"])


def all_containers() -> list[tuple[str, Manifest, Manifest]]:
    """Every container as (where, container, the pod spec it is in)."""
    return [
        (f"{where}:{container['name']}", container, template["spec"])
        for where, template in all_pod_templates()
        for container in containers(template["spec"])
    ]


def container_named(pod_template: Manifest, name: str) -> Manifest:
    matches: list[Manifest] = [c for c in pod_template["spec"]["containers"] if c["name"] == name]
    assert len(matches) == 1, f"expected one container named {name}"
    return matches[0]


def labels_of(pod_template: Manifest) -> dict[str, str]:
    return dict(pod_template.get("metadata", {}).get("labels", {}))


def selects(match_labels: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in match_labels.items())


def expand(value: str, environment: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined variables are replaced, $$ escapes a $."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return environment.get(match.group(1), match.group(0))

    return VARIABLE_REFERENCE.sub(replace, value)


def container_environment(
    container: Manifest,
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    """The environment Kubernetes gives a container, from its envFrom and env."""
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = config_maps[source["configMapRef"]["name"]]
        else:
            data = secrets[source["secretRef"]["name"]]
        environment.update({prefix + key: value for key, value in data.items()})
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = expand(variable["value"], environment)
            continue
        reference = variable["valueFrom"]
        if "secretKeyRef" in reference:
            key_ref = reference["secretKeyRef"]
            environment[variable["name"]] = secrets[key_ref["name"]][key_ref["key"]]
        elif "configMapKeyRef" in reference:
            key_ref = reference["configMapKeyRef"]
            environment[variable["name"]] = config_maps[key_ref["name"]][key_ref["key"]]
        else:
            raise NotImplementedError(f"{variable['name']}: only Secret and ConfigMap values")
    return environment


def secret_variables(container: Manifest) -> set[str]:
    return {
        variable["name"]
        for variable in container.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    }


def cpu_cores(quantity: str | int | float) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory_bytes(quantity: str | int) -> int:
    text = str(quantity)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * factor
    return int(text)


def redis_memory_bytes(setting: str) -> int:
    """A size in redis.conf units: "mb" is 1024 * 1024 bytes, "m" is 1,000,000."""
    match = re.fullmatch(r"(\d+)([a-z]*)", setting.lower())
    assert match, f"not a redis size: {setting!r}"
    number, unit = match.groups()
    units = {"": 1, "k": 10**3, "kb": 2**10, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}
    return int(number) * units[unit]


def redis_options(container: Manifest) -> dict[str, str]:
    """redis-server's `--name value` arguments as a dict."""
    arguments = list(container.get("command", [])[1:]) + list(container.get("args", []))
    options = {}
    for flag, value in zip(arguments[::2], arguments[1::2], strict=True):
        assert flag.startswith("--"), f"unexpected redis-server argument {flag!r}"
        options[flag[2:]] = value
    return options


# --- Validity -------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("document", [d for d in DOCUMENTS if not d.is_keda], ids=str)
def test_every_manifest_is_valid_for_the_kubernetes_api(document: Document, version: str):
    kubernetes_validate.validate(document.body, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_autoscaled_job_template_is_a_valid_kubernetes_job(version: str):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "findhash-worker-autoscaled"},
        "spec": scaled_job()["spec"]["jobTargetRef"],
    }
    kubernetes_validate.validate(job, version, strict=True)


def test_the_scaled_job_has_the_fields_keda_requires():
    spec = scaled_job()["spec"]
    authentications = {d.name for d in DOCUMENTS if d.kind == "TriggerAuthentication"}

    assert spec["jobTargetRef"]["template"]["spec"]["containers"]
    assert spec["triggers"], "a ScaledJob needs at least one trigger"
    for trigger in spec["triggers"]:
        metadata = trigger["metadata"]
        assert trigger["type"] == "redis"
        assert re.fullmatch(r"[a-z0-9.-]+:\d+", metadata["address"]), "address is host:port"
        assert metadata["listName"]
        assert int(metadata["listLength"]) >= 1
        assert all(isinstance(value, str) for value in metadata.values()), "metadata is strings"
        assert trigger["authenticationRef"]["name"] in authentications


def test_keda_logs_in_with_the_secret_the_workers_use():
    authentication = find("TriggerAuthentication", "findhash-redis")
    worker = container_named(worker_job()["spec"]["template"], WORKER_CONTAINER)
    password = next(v for v in worker["env"] if v["name"] == "REDIS_PASSWORD")

    references = authentication["spec"]["secretTargetRef"]
    assert all({"parameter", "name", "key"} <= set(ref) for ref in references)
    assert {"parameter": "password", **password["valueFrom"]["secretKeyRef"]} in references


def test_each_kustomization_lists_every_manifest_in_its_folder():
    kustomizations = sorted(KUBERNETES_DIR.rglob("kustomization.yaml"))
    assert kustomizations

    for kustomization in kustomizations:
        listed = yaml.safe_load(kustomization.read_text())["resources"]
        folder = kustomization.parent
        manifests = {
            path.name
            for path in folder.glob("*.yaml")
            if path.name != "kustomization.yaml" and not path.name.endswith(".example.yaml")
        }
        assert len(listed) == len(set(listed)), f"{kustomization}: listed twice"
        assert set(listed) == manifests, f"{kustomization} does not list exactly {manifests}"


def test_only_example_files_hold_secrets():
    # A Secret applied with the rest would overwrite the real password with a placeholder.
    secrets = [doc for doc in DOCUMENTS if doc.kind == "Secret"]

    assert secrets, "a Secret example shows what the manifests expect"
    for secret in secrets:
        assert secret.is_example, f"{secret} holds a Secret outside an example file"
        values = {**secret.body.get("stringData", {}), **secret.body.get("data", {})}
        assert all("REPLACE" in str(value) for value in values.values()), f"{secret}"


# --- The worker Job -------------------------------------------------------------------


def test_the_worker_job_follows_the_work_queue_pattern():
    spec = worker_job()["spec"]

    assert isinstance(spec.get("parallelism"), int) and spec["parallelism"] >= 1
    assert "completions" not in spec, "completions must be unset for a work queue"
    assert "completionMode" not in spec


@pytest.mark.parametrize("job_spec", ["worker Job", "autoscaled Job"])
def test_interruptions_do_not_count_as_worker_failures(job_spec: str):
    spec = (
        worker_job()["spec"] if job_spec == "worker Job" else scaled_job()["spec"]["jobTargetRef"]
    )
    rules = spec["podFailurePolicy"]["rules"]
    ignored_conditions = [
        condition["type"]
        for rule in rules
        if rule["action"] == "Ignore"
        for condition in rule.get("onPodConditions", [])
    ]

    # A podFailurePolicy is only accepted with restartPolicy Never.
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert "DisruptionTarget" in ignored_conditions
    assert 143 in ignored_exit_codes(spec), "SIGTERM (128 + 15) must not count as a failure"
    assert spec.get("backoffLimit", 6) >= 1


def ignored_exit_codes(job_spec: Manifest) -> set[int]:
    """Exit codes of the worker container that the Job's podFailurePolicy ignores."""
    codes: set[int] = set()
    for rule in job_spec["podFailurePolicy"]["rules"]:
        exit_codes = rule.get("onExitCodes")
        if rule["action"] != "Ignore" or exit_codes is None:
            continue
        assert exit_codes["operator"] == "In"
        assert exit_codes.get("containerName", WORKER_CONTAINER) == WORKER_CONTAINER
        codes.update(exit_codes["values"])
    return codes


def test_the_grace_period_leaves_room_to_hand_work_back():
    # Workers hand their leases back within about 5 s of SIGTERM.
    pod_spec = worker_job()["spec"]["template"]["spec"]

    assert 10 <= pod_spec["terminationGracePeriodSeconds"] <= 120


def test_the_autoscaled_worker_runs_the_same_pod_as_the_worker_job():
    job = worker_job()["spec"]
    autoscaled = scaled_job()["spec"]["jobTargetRef"]

    assert autoscaled["template"] == job["template"]
    assert autoscaled["podFailurePolicy"] == job["podFailurePolicy"]
    assert "completions" not in autoscaled


def test_worker_cpu_matches_its_thread_count():
    worker = container_named(worker_job()["spec"]["template"], WORKER_CONTAINER)
    threads = int(config_map()["data"]["FINDHASH_THREADS"])
    resources = worker["resources"]

    assert cpu_cores(resources["requests"]["cpu"]) == threads
    assert cpu_cores(resources["limits"]["cpu"]) == threads


# --- Configuration and secrets --------------------------------------------------------


def test_the_config_map_holds_every_findhash_setting_and_no_secret():
    data = config_map()["data"]

    assert {"FINDHASH_QUEUE", "FINDHASH_THREADS", "FINDHASH_LEASE_TTL_S", "FINDHASH_LOG_LEVEL"} <= (
        set(data)
    )
    assert all(key.startswith("FINDHASH_") for key in data)
    assert all(isinstance(value, str) for value in data.values())
    assert not [key for key in data if SECRET_LOOKING.search(key)]
    assert not [value for value in data.values() if "://" in value]


def findhash_containers() -> list[tuple[str, Manifest]]:
    return [
        (where, container)
        for where, container, _ in all_containers()
        if container["image"].split(":")[0].endswith("findhash")
    ]


@pytest.mark.parametrize(
    "where,container", findhash_containers(), ids=[w for w, _ in findhash_containers()]
)
def test_findhash_settings_come_from_the_config_map(where: str, container: Manifest):
    sources = [source["configMapRef"]["name"] for source in container.get("envFrom", [])]
    literal = [v["name"] for v in container.get("env", []) if v["name"].startswith("FINDHASH_")]
    flags = [arg for arg in container.get("args", []) if arg.startswith("-")]

    assert sources == [config_map()["metadata"]["name"]]
    assert not literal, f"{where}: set {literal} in the ConfigMap instead"
    assert not flags, f"{where}: options belong in the ConfigMap, not in args"


def test_the_autoscaler_watches_the_configured_queue():
    queue = config_map()["data"]["FINDHASH_QUEUE"]
    lists = {trigger["metadata"]["listName"] for trigger in scaled_job()["spec"]["triggers"]}

    assert lists == {queue, f"{queue}:processing"}


@pytest.mark.parametrize(
    "where,container,pod_spec", all_containers(), ids=[w for w, _, _ in all_containers()]
)
def test_passwords_come_only_from_secrets(where: str, container: Manifest, pod_spec: Manifest):
    from_secrets = secret_variables(container)
    references = {f"$({name})" for name in from_secrets}

    for variable in container.get("env", []):
        if SECRET_LOOKING.search(variable["name"]):
            assert variable["name"] in from_secrets, f"{where}: {variable['name']} is literal"
        value = variable.get("value", "")
        if "://" in value:
            password = urlsplit(value).password
            assert password is None or password in references, f"{where}: password in URL"
    arguments = list(container.get("command", [])) + list(container.get("args", []))
    for flag, value in itertools.pairwise(arguments):
        if SECRET_LOOKING.search(flag) or flag == "-a":
            assert value in references, f"{where}: {flag} is given a literal"


def test_clients_reach_redis_through_its_service():
    service = find("Service", "redis")
    redis_labels = labels_of(redis_statefulset()["spec"]["template"])
    port = service["spec"]["ports"][0]
    clients = [
        (where, container)
        for where, container, _ in all_containers()
        if any(v["name"] == "REDIS_URL" for v in container.get("env", []))
    ]

    assert selects(service["spec"]["selector"], redis_labels)
    assert service["spec"].get("clusterIP") != "None"
    assert clients
    for where, container in clients:
        # Expanded as Kubernetes does: the password must be defined before the URL.
        secrets = {
            v["valueFrom"]["secretKeyRef"]["name"]: {v["valueFrom"]["secretKeyRef"]["key"]: "pw"}
            for v in container["env"]
            if "secretKeyRef" in v.get("valueFrom", {})
        }
        config_maps = {config_map()["metadata"]["name"]: config_map()["data"]}
        url = urlsplit(container_environment(container, config_maps, secrets)["REDIS_URL"])
        assert url.scheme in ("redis", "rediss"), where
        assert url.password == "pw", f"{where}: REDIS_URL does not carry the Secret's password"
        assert (url.hostname, url.port) == (service["metadata"]["name"], port["port"]), where


def test_the_autoscaler_reaches_redis_through_its_service():
    service = find("Service", "redis")
    port = service["spec"]["ports"][0]["port"]

    for trigger in scaled_job()["spec"]["triggers"]:
        host, _, trigger_port = trigger["metadata"]["address"].rpartition(":")
        assert host.split(".")[0] == service["metadata"]["name"]
        assert int(trigger_port) == port


# --- Redis ----------------------------------------------------------------------------


def redis_container() -> Manifest:
    return container_named(redis_statefulset()["spec"]["template"], "redis")


def test_redis_keeps_every_acknowledged_write_and_never_evicts():
    options = redis_options(redis_container())

    assert options["appendonly"] == "yes"
    assert options["appendfsync"] == "always"
    assert options["maxmemory-policy"] == "noeviction"


def test_redis_keeps_its_files_on_the_persistent_volume():
    statefulset = redis_statefulset()["spec"]
    claims = {claim["metadata"]["name"] for claim in statefulset["volumeClaimTemplates"]}
    mounts = {m["mountPath"]: m["name"] for m in redis_container()["volumeMounts"]}
    headless = find("Service", statefulset["serviceName"])

    assert mounts[redis_options(redis_container())["dir"]] in claims
    assert headless["spec"]["clusterIP"] == "None"
    assert statefulset["replicas"] == 1


def test_redis_stays_within_its_memory_limit():
    container = redis_container()
    limit = memory_bytes(container["resources"]["limits"]["memory"])
    maxmemory = redis_memory_bytes(redis_options(container)["maxmemory"])

    # An append-only file rewrite forks Redis; leave room for the copy.
    assert maxmemory <= limit * 0.75


def test_redis_requires_the_password_from_its_secret():
    container = redis_container()

    assert redis_options(container)["requirepass"] == "$(REDIS_PASSWORD)"
    assert "REDIS_PASSWORD" in secret_variables(container)


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_redis_probes_log_in_before_they_ping(probe: str):
    container = redis_container()
    command = " ".join(container[probe]["exec"]["command"])

    assert "redis-cli" in command and "ping" in command
    assert 'REDISCLI_AUTH="$REDIS_PASSWORD"' in command
    assert "REDIS_PASSWORD" in secret_variables(container)


# --- Pod security ---------------------------------------------------------------------


def effective(container: Manifest, pod_spec: Manifest, field: str) -> Any:
    """A security setting as it applies to the container: its own, else the pod's."""
    own = container.get("securityContext", {})
    return own[field] if field in own else pod_spec.get("securityContext", {}).get(field)


@pytest.mark.parametrize(
    "where,container,pod_spec", all_containers(), ids=[w for w, _, _ in all_containers()]
)
def test_every_container_runs_locked_down(where: str, container: Manifest, pod_spec: Manifest):
    context = container.get("securityContext", {})

    assert effective(container, pod_spec, "runAsNonRoot") is True, where
    assert effective(container, pod_spec, "runAsUser") not in (0, None), where
    assert context.get("readOnlyRootFilesystem") is True, where
    assert context.get("allowPrivilegeEscalation") is False, where
    assert "ALL" in context.get("capabilities", {}).get("drop", []), where
    assert effective(container, pod_spec, "seccompProfile") == {"type": "RuntimeDefault"}, where
    assert pod_spec.get("automountServiceAccountToken") is False, where


@pytest.mark.parametrize(
    "where,container,pod_spec", all_containers(), ids=[w for w, _, _ in all_containers()]
)
def test_every_container_has_cpu_and_memory_requests_and_limits(
    where: str, container: Manifest, pod_spec: Manifest
):
    resources = container["resources"]

    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), f"{where}: {kind}"
    assert cpu_cores(resources["requests"]["cpu"]) <= cpu_cores(resources["limits"]["cpu"])
    assert memory_bytes(resources["requests"]["memory"]) <= memory_bytes(
        resources["limits"]["memory"]
    )


@pytest.mark.parametrize(
    "where,container,pod_spec", all_containers(), ids=[w for w, _, _ in all_containers()]
)
def test_every_image_is_pinned_to_a_tag(where: str, container: Manifest, pod_spec: Manifest):
    name, _, tag = container["image"].rpartition(":")

    assert name and "/" not in tag, f"{where}: {container['image']} has no tag"
    assert tag != "latest", where


def test_every_findhash_container_runs_the_same_image():
    assert len({container["image"] for _, container in findhash_containers()}) == 1


# --- Network policy -------------------------------------------------------------------


def test_the_network_policy_guards_the_redis_pods_only():
    selector = main_network_policy()["spec"]["podSelector"]
    selected = [
        where for where, t in all_pod_templates() if selects(selector["matchLabels"], labels_of(t))
    ]

    assert set(selector) == {"matchLabels"}
    assert selected == [str(doc) for doc in DOCUMENTS if doc.kind == "StatefulSet"]


def test_the_network_policy_admits_exactly_workers_and_labelled_clients():
    spec = main_network_policy()["spec"]
    worker_labels = labels_of(worker_job()["spec"]["template"])
    redis_port = redis_container()["ports"][0]["containerPort"]

    assert spec["policyTypes"] == ["Ingress"]
    assert len(spec["ingress"]) == 1
    rule = spec["ingress"][0]
    assert rule["ports"] == [{"protocol": "TCP", "port": redis_port}]
    assert all(set(peer) == {"podSelector"} for peer in rule["from"]), "no namespace or IP peers"
    assert all(set(peer["podSelector"]) == {"matchLabels"} for peer in rule["from"])
    admitted = [peer["podSelector"]["matchLabels"] for peer in rule["from"]]
    assert len(admitted) == 2
    assert CLIENT_LABELS in admitted
    worker_selector = next(labels for labels in admitted if labels != CLIENT_LABELS)
    assert selects(worker_selector, worker_labels)
    assert worker_selector.get("app.kubernetes.io/component") == "worker"


def talks_to_redis(pod_template: Manifest) -> bool:
    names = {v["name"] for c in containers(pod_template["spec"]) for v in c.get("env", [])}
    return bool(names & {"REDIS_URL", "REDISCLI_AUTH"})


def test_every_pod_that_talks_to_redis_is_admitted_and_no_other():
    rule = main_network_policy()["spec"]["ingress"][0]
    admitted = [peer["podSelector"]["matchLabels"] for peer in rule["from"]]
    clients = [(w, t) for w, t in all_pod_templates() if talks_to_redis(t)]

    assert len(clients) >= 4, "workers, autoscaled workers, the enqueue Job, the client pod"
    for where, template in all_pod_templates():
        allowed = any(selects(labels, labels_of(template)) for labels in admitted)
        assert allowed == talks_to_redis(template), where


def test_the_keda_network_policy_admits_only_the_keda_operator():
    policy = find("NetworkPolicy", "redis-keda-operator")["spec"]
    main = main_network_policy()["spec"]

    assert policy["podSelector"] == main["podSelector"]
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    [peer] = rule["from"]
    assert set(peer) == {"namespaceSelector", "podSelector"}, "both, in one peer"
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "keda"}
    assert rule["ports"] == main["ingress"][0]["ports"]


def test_redis_server_takes_the_manifest_arguments_and_passes_its_probes(tmp_path: Path):
    container = redis_container()
    password = "probe-password"
    port = free_port()
    argv = [expand(arg, {"REDIS_PASSWORD": password}) for arg in container["command"]]
    argv += [expand(arg, {"REDIS_PASSWORD": password}) for arg in container["args"]]
    argv[argv.index("--dir") + 1] = str(tmp_path)
    server = subprocess.Popen(
        [*argv, "--port", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        client = redis.Redis(port=port, password=password, decode_responses=True)
        wait_until_answering(client)
        config = client.config_get("*")
        probe_results = {
            (probe, given): run_probe(container[probe], port, given)
            for probe in ("readinessProbe", "livenessProbe")
            for given in (password, "wrong-password")
        }
    finally:
        server.kill()
        server.wait()

    assert (config["appendonly"], config["appendfsync"]) == ("yes", "always")
    assert config["maxmemory-policy"] == "noeviction"
    assert config["save"] == ""
    assert config["requirepass"] == password
    assert probe_results == {
        ("readinessProbe", password): True,
        ("readinessProbe", "wrong-password"): False,
        ("livenessProbe", password): True,
        ("livenessProbe", "wrong-password"): False,
    }


def wait_until_answering(client: redis.Redis, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)


def run_probe(probe: Manifest, port: int, password: str) -> bool:
    """Run an exec probe against a local server; the probes name the default port."""
    command = [
        part.replace("-h 127.0.0.1", f"-h 127.0.0.1 -p {port}") for part in probe["exec"]["command"]
    ]
    environment = {**os.environ, "REDIS_PASSWORD": password}
    result = subprocess.run(command, env=environment, capture_output=True, timeout=30)
    return result.returncode == 0
