"""compose.yaml, the Dockerfile and .env.example, checked without a Docker engine.

The compose file is validated against the Compose Specification schema that check-jsonschema
vendors; everything the schema cannot know (health, secrets, what each image installs, that each
command is a real `digitbot` sub-command) is checked here by reading the files.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import repo_root

ROOT = repo_root()
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"

FIRST_PARTY = {"digitbot", "reading", "bot", "worker", "training", "web"}
REQUIRED_SECRETS = {
    "TELEGRAM_BOT_TOKEN": {"bot", "worker", "worker-gpu", "trainer", "trainer-gpu"},
    "REDIS_PASSWORD": {"redis"},
    "DIGITBOT_WEB_USER": {"web"},
    "DIGITBOT_WEB_PASSWORD": {"web"},
}
GPU_SERVICES = {"worker-gpu", "trainer-gpu"}
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+other}, ${VAR+other}
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
)


# --- reading the files -------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Resolve compose interpolation the way `docker compose` does with `env` as the .env file."""
    env = env or {}

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        unset_or_empty = not value if op and op.startswith(":") else value is None
        if op in (":-", "-"):
            return arg if unset_or_empty else str(value)
        if op in (":?", "?"):
            if unset_or_empty:
                raise KeyError(f"{name}: {arg}")
            return str(value)
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return value or ""

    escaped = value.replace("$$", "\0")
    return INTERPOLATION.sub(replace, escaped).replace("\0", "$")


def variables_used() -> set[str]:
    return {m["name"] for m in INTERPOLATION.finditer(COMPOSE.read_text().replace("$$", ""))}


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value
    return pairs


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (KEYWORD, arguments)

    def text(self) -> str:
        return "\n".join(f"{keyword} {args}" for keyword, args in self.instructions)

    def uses(self) -> set[str]:
        """Stages this one copies or mounts from."""
        return set(re.findall(r"--(?:mount=[^ ]*?\bfrom|from)=([\w.-]+)", self.text()))

    def last(self, keyword: str) -> str | None:
        found = [args for kw, args in self.instructions if kw == keyword]
        return found[-1] if found else None


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: dict[str, Stage]

    def chain(self, target: str, *, with_mounts: bool = True) -> list[Stage]:
        """The stage `target` and every stage it is built from (FROM, COPY/mount --from)."""
        seen: dict[str, Stage] = {}
        pending = [target]
        while pending:
            stage = self.stages[pending.pop()]
            if stage.name in seen:
                continue
            seen[stage.name] = stage
            if stage.base in self.stages:
                pending.append(stage.base)
            if with_mounts:
                pending.extend(name for name in stage.uses() if name in self.stages)
        return list(seen.values())

    def image(self, reference: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: self.global_args[m[1]], reference)


@cache
def dockerfile() -> Dockerfile:
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        logical.append(current + raw)
        current = ""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else str(len(stages))
            stage = stages[name] = Stage(name, words[0])
        elif stage is None:
            assert keyword == "ARG", f"only ARG may precede the first FROM, found {keyword}"
            name, _, default = args.partition("=")
            global_args[name] = default
        else:
            stage.instructions.append((keyword, args))
    return Dockerfile(global_args, stages)


def runtime_targets() -> set[str]:
    return {s["build"]["target"] for s in services().values() if "build" in s}


# --- the Compose Specification -----------------------------------------------------------------


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    return subprocess.run(
        [*command, *map(str, paths)], capture_output=True, text=True, timeout=60, check=False
    )


def test_compose_file_passes_the_compose_specification_schema() -> None:
    result = check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_fails_on_a_broken_compose_file(tmp_path: Path) -> None:
    text = COMPOSE.read_text()
    breakages = {
        "unknown-key": text.replace("\n  bot:\n", "\n  bot:\n    restart_policy: always\n", 1),
        "bad-condition": text.replace("condition: service_healthy", "condition: healthy", 1),
        "bad-healthcheck": text.replace("  retries: 3", "  retries: 3\n  every: 30s", 1),
    }
    paths = []
    for name, broken in breakages.items():
        assert broken != text, f"the {name} breakage no longer applies to compose.yaml"
        paths.append(tmp_path / f"{name}.yaml")
        paths[-1].write_text(broken)
    result = check_jsonschema(*paths)
    assert result.returncode != 0
    for path in paths:
        assert str(path) in result.stdout + result.stderr, f"{path.name} passed the schema"


def compose_binary() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_docker_compose_accepts_the_file_when_available(tmp_path: Path) -> None:
    binary = compose_binary()
    if binary is None:
        pytest.skip("no `docker compose` or `docker-compose` here; the schema test covers it")
    (tmp_path / ".env").write_text(
        "TELEGRAM_BOT_TOKEN=1:x\nREDIS_PASSWORD=x\nDIGITBOT_WEB_USER=x\nDIGITBOT_WEB_PASSWORD=x\n"
    )
    command = [*binary, "--project-directory", str(tmp_path), "-f", str(COMPOSE)]
    result = subprocess.run(
        [*command, "--profile", "gpu", "config", "--quiet"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# --- health and start order --------------------------------------------------------------------


def has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    test = check.get("test")
    return bool(test) and test != ["NONE"] and not check.get("disable")


def healthy_dependencies(service: dict[str, Any]) -> set[str]:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):  # the short form waits for "started" only
        return set()
    return {name for name, d in depends.items() if d.get("condition") == "service_healthy"}


@pytest.mark.parametrize("name", sorted(services()))
def test_every_service_is_health_checked(name: str) -> None:
    service = services()[name]
    checked_dependency = any(has_healthcheck(services()[d]) for d in healthy_dependencies(service))
    assert has_healthcheck(service) or checked_dependency


@pytest.mark.parametrize("name", sorted(set(services()) - {"redis"}))
def test_every_service_waits_for_a_healthy_redis(name: str) -> None:
    assert "redis" in healthy_dependencies(services()[name])


@pytest.mark.parametrize("name", sorted(services()))
def test_every_service_restarts_unless_stopped(name: str) -> None:
    assert services()[name].get("restart") == "unless-stopped"


def test_redis_persists_on_a_named_volume_with_append_only_file() -> None:
    redis = services()["redis"]
    words = redis["command"][-1].split()  # sh -c "exec ... redis-server - <options> <<EOF ..."
    assert words[words.index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in redis["volumes"]
    assert "redis-data" in compose()["volumes"]
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])
    # redis-cli reads REDISCLI_AUTH; the password never lands on a command line.
    assert redis["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")


@pytest.mark.parametrize("name", ["trainer", "trainer-gpu"])
def test_trainers_keep_datasets_and_reports_on_a_named_volume(name: str) -> None:
    service = services()[name]
    assert service["environment"]["DIGITBOT_HOME"] == "/data"
    volume = next(v.split(":")[0] for v in service["volumes"] if v.endswith(":/data"))
    assert volume in compose()["volumes"]


def test_nothing_is_bind_mounted_from_the_build_context() -> None:
    # Models come from the registry in Redis, datasets from named volumes.
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in compose()["volumes"], f"{name} mounts {source} from the host"


# --- secrets and variables ---------------------------------------------------------------------


@pytest.mark.parametrize("variable", sorted(REQUIRED_SECRETS))
def test_secrets_are_required_with_a_message(variable: str) -> None:
    uses = re.findall(r"\$\{" + variable + r"([^}]*)\}", COMPOSE.read_text())
    assert uses, f"{variable} is not used in compose.yaml"
    for suffix in uses:
        assert re.fullmatch(r":\?.*\S.*", suffix), f"${{{variable}{suffix}}} is not ${{VAR:?msg}}"
    for name in REQUIRED_SECRETS[variable]:
        environment = json.dumps(services()[name].get("environment", {}))
        command = json.dumps(services()[name].get("command", []))
        assert "${" + variable + ":?" in environment + command, f"{name} lacks {variable}"


@pytest.mark.parametrize("name", sorted(set(services()) - {"redis"}))
def test_services_reach_redis_with_the_password(name: str) -> None:
    url = services()[name]["environment"]["REDIS_URL"]
    assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379/0", url)


@pytest.mark.parametrize("name", sorted(n for n, s in services().items() if "build" in s))
def test_telegram_urls_pass_through_with_defaults(name: str) -> None:
    environment = services()[name]["environment"]
    if "TELEGRAM_BOT_TOKEN" not in environment:
        return
    assert interpolate(environment["TELEGRAM_API_URL"]) == "https://api.telegram.org/bot"
    assert interpolate(environment["TELEGRAM_FILE_API_URL"]) == "https://api.telegram.org/file/bot"


def test_env_example_documents_every_variable_of_compose() -> None:
    missing = variables_used() - set(env_example())
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_holds_no_secret_compose_would_accept() -> None:
    # Empty: `docker compose` stops with the ${VAR:?message} before anything starts.
    example = env_example()
    for variable in REQUIRED_SECRETS:
        assert example[variable] == "", f"{variable} has a value in .env.example"
        with pytest.raises(KeyError, match=variable):
            interpolate("${" + variable + ":?set it}", example)


def test_defaults_in_env_example_match_compose() -> None:
    example = env_example()
    for match in INTERPOLATION.finditer(COMPOSE.read_text()):
        if match["op"] == ":-":
            assert example[match["name"]] == match["arg"], match[0]


def test_every_dollar_in_compose_is_an_interpolation_or_escaped() -> None:
    # A bare $VAR would be interpolated by compose on the host, not expanded in the container.
    stripped = INTERPOLATION.sub("", COMPOSE.read_text()).replace("$$", "")
    assert "$" not in stripped


def test_dockerignore_keeps_secrets_and_data_out_of_the_build_context() -> None:
    patterns = DOCKERIGNORE.read_text().split()
    for pattern in (".env", ".venv/", ".git/", ".digitbot/", "tests/", "docs/"):
        assert pattern in patterns
    assert "**/__pycache__/" in patterns


# --- GPU and scaling ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GPU_SERVICES))
def test_gpu_services_are_in_profile_gpu_and_reserve_nvidia_devices(name: str) -> None:
    service = services()[name]
    assert service["profiles"] == ["gpu"]
    assert service["build"]["target"] == "worker-gpu"
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]} in devices


def test_only_the_trainers_and_gpu_services_have_a_profile() -> None:
    with_profile = {n for n, s in services().items() if s.get("profiles")}
    assert with_profile == GPU_SERVICES | {"trainer"}
    assert services()["trainer"]["profiles"] == ["cpu"]


def started(profiles: set[str]) -> set[str]:
    """The services `docker compose up` starts with these profiles active: those without a
    profile, and those with one of them."""
    return {
        name for name, service in services().items()
        if not service.get("profiles") or profiles & set(service["profiles"])
    }  # fmt: skip


def test_one_trainer_runs_with_or_without_the_gpu_profile() -> None:
    # No --profile on the command line: COMPOSE_PROFILES from .env. A --profile replaces it.
    from_env = set(env_example()["COMPOSE_PROFILES"].split(","))
    trainers = {"trainer", "trainer-gpu"}
    assert started(from_env) & trainers == {"trainer"}
    assert started({"gpu"}) & trainers == {"trainer-gpu"}
    assert {"worker", "worker-gpu"} <= started({"gpu"})  # CPU workers keep running beside
    assert "worker-gpu" not in started(from_env)


@pytest.mark.parametrize("name", ["worker", "worker-gpu"])
def test_workers_scale(name: str) -> None:
    service = services()[name]
    assert int(interpolate(str(service["deploy"]["replicas"]))) >= 1
    # A fixed name or a published port would stop `--scale` at the second container.
    assert "container_name" not in service and "ports" not in service


# --- every command is a real digitbot command --------------------------------------------------


def subcommands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def parse_digitbot(argv: list[str]) -> argparse.Namespace:
    from digitbot.cli import build_parser

    assert argv[0] == "digitbot", f"{argv} does not run digitbot"
    parser = build_parser()
    if argv[1] not in subcommands(parser):
        pytest.xfail(f"`digitbot {argv[1]}` is not a sub-command of digitbot/cli.py yet")
    try:
        return parser.parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"`{shlex.join(argv)}` does not parse")


@pytest.mark.parametrize("name", sorted(set(services()) - {"redis"}))
def test_service_command_is_a_digitbot_subcommand(name: str) -> None:
    argv = [interpolate(word) for word in services()[name]["command"]]
    parse_digitbot(argv)


@pytest.mark.parametrize("name", sorted(set(services()) - {"redis"}))
def test_service_healthcheck_is_digitbot_healthcheck(name: str) -> None:
    from digitbot.healthcheck import add_arguments

    test = services()[name]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:3] == ["digitbot", "healthcheck"]
    own = argparse.ArgumentParser()
    add_arguments(own)
    own.parse_args(test[3:])  # the healthcheck module accepts these arguments...
    parse_digitbot(test[1:])  # ...and so does the command line


def test_worker_queues_and_processes() -> None:
    assert parse_digitbot(services()["trainer"]["command"]).queues == "training"
    worker = parse_digitbot([interpolate(w) for w in services()["worker"]["command"]])
    assert worker.queues == "recognition" and worker.processes >= 1


# --- Dockerfile --------------------------------------------------------------------------------

PINNED_IMAGE = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+(-[\w.-]+)?(@sha256:[0-9a-f]{64})?$")


def test_compose_targets_are_dockerfile_stages() -> None:
    assert runtime_targets() == {"bot", "web", "worker", "worker-gpu"}
    assert runtime_targets() <= set(dockerfile().stages)


def test_base_images_are_pinned_to_a_patch_release() -> None:
    images = [dockerfile().image(s.base) for s in dockerfile().stages.values()]
    images += [s["image"] for s in services().values() if "build" not in s]
    external = [image for image in images if image not in dockerfile().stages]
    assert external
    for image in external:
        assert "latest" not in image and PINNED_IMAGE.match(image), f"{image} is not pinned"
    assert re.match(r"python:3\.11\.\d+-slim-bookworm", dockerfile().global_args["PYTHON_IMAGE"])


@pytest.mark.parametrize("target", ["bot", "web", "worker", "worker-gpu"])
def test_runtime_images_run_as_a_non_root_user(target: str) -> None:
    user = dockerfile().stages[target].last("USER")
    assert user and user.split(":")[0] not in ("root", "0")


@pytest.mark.parametrize("target", ["bot", "web", "worker", "worker-gpu"])
def test_runtime_images_carry_no_build_tools(target: str) -> None:
    # Wheel stages are only mounted while installing; the image is built FROM the rest.
    image_layers = dockerfile().chain(target, with_mounts=False)
    text = "\n".join(stage.text() for stage in image_layers)
    assert "apt-get install" not in text and "build-essential" not in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text


@pytest.mark.parametrize("target", ["bot", "web", "worker", "worker-gpu"])
def test_runtime_images_declare_a_digitbot_healthcheck(target: str) -> None:
    check = dockerfile().stages[target].last("HEALTHCHECK") or ""
    component = "web" if target == "web" else target.removesuffix("-gpu")
    assert f'CMD ["digitbot", "healthcheck", "{component}"' in check


@pytest.mark.parametrize("target", ["bot", "web"])
def test_slim_images_install_no_tensorflow(target: str) -> None:
    chain = dockerfile().chain(target)
    assert "tensorflow" not in "\n".join(s.text() for s in chain).lower()
    install = dockerfile().stages[target].last("RUN") or ""
    assert re.search(r"pip install [^&]*--no-deps [^&]*digitbot-\*\.whl", install)


def requirement_list(stage: str) -> list[Requirement]:
    text = dockerfile().stages[stage].text()
    printf = re.search(r"printf '%s\\n' (.*?) > /wheels/requirements\.txt", text)
    assert printf, f"{stage} does not write its requirements with printf"
    return [Requirement(word) for word in shlex.split(printf[1])]


def pyproject_requirements() -> dict[str, Requirement]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonical(r.name): r for r in map(Requirement, project["dependencies"])}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("stage", ["bot-deps", "web-deps"])
def test_slim_requirements_match_pyproject(stage: str) -> None:
    declared = pyproject_requirements()
    for requirement in requirement_list(stage):
        name = canonical(requirement.name)
        assert name in declared, f"{stage} installs {name}, which pyproject.toml does not declare"
        same = (requirement.specifier, requirement.extras) == (
            declared[name].specifier,
            declared[name].extras,
        )
        assert same, f"{stage} installs {requirement}, pyproject.toml declares {declared[name]}"


def test_gpu_workers_swap_tensorflow_cpu_for_the_gpu_extra() -> None:
    text = dockerfile().stages["worker-gpu-deps"].text()
    assert 'optional-dependencies"]["gpu"]' in text
    assert 'not d.startswith("tensorflow-cpu")' in text


# --- what the slim images can import -----------------------------------------------------------

# Everything a process in that image imports at start-up, with only the image's packages.
IMAGE_IMPORTS = {
    "bot-deps": (
        "bot.app", "digitbot.cli", "digitbot.scheduler", "digitbot.cron", "digitbot.healthcheck",
    ),
    "web-deps": ("web.server", "web.app", "digitbot.cli", "digitbot.healthcheck"),
}  # fmt: skip

BLOCKING_IMPORTER = """
import importlib, importlib.abc, json, sys
allowed = set(json.loads(sys.argv[1]))
class NotInTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.partition(".")[0]
        if top in allowed or top in sys.stdlib_module_names or top.startswith("_"):
            return None
        raise ModuleNotFoundError(f"No module named {name!r} (not in the image)", name=name)
sys.meta_path.insert(0, NotInTheImage())
for module in sys.argv[2:]:
    importlib.import_module(module)
import digitbot.cli
digitbot.cli.build_parser()
print(json.dumps(sorted({m.partition(".")[0] for m in sys.modules})))
"""


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """Distributions pip installs for `requirements` (as installed here), dependencies included."""
    found: set[str] = set()
    pending = [(r, "") for r in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonical(requirement.name)
        if name in found:
            continue
        found.add(name)
        for dependency in importlib.metadata.requires(name) or []:
            parsed = Requirement(dependency)
            for wanted in requirement.extras or {""}:
                pending.append((parsed, wanted))
    return found


def top_level_modules(distributions: set[str]) -> set[str]:
    return {
        module
        for module, owners in importlib.metadata.packages_distributions().items()
        if any(canonical(owner) in distributions for owner in owners)
    }


@pytest.mark.parametrize("stage", sorted(IMAGE_IMPORTS))
def test_slim_image_has_every_module_its_processes_import(stage: str) -> None:
    allowed = top_level_modules(installed_closure(requirement_list(stage))) | FIRST_PARTY
    result = subprocess.run(
        [sys.executable, "-c", BLOCKING_IMPORTER, json.dumps(sorted(allowed)),
         *IMAGE_IMPORTS[stage]],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    imported = set(json.loads(result.stdout.splitlines()[-1]))
    assert not imported & {"tensorflow", "keras"}
    if stage == "web-deps":
        assert "telegram" not in imported
