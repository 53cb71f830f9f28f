"""Hosting compose.yaml among other things: behind a reverse proxy, beside a host Redis, with a
registry of one's own, with a Redis password no `docker inspect` shows. Read statically (there
is no Docker engine here), except the Redis command, which runs against a real redis-server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from digitbot.redis_server import find_redis_server, free_port
from tests.deploy.test_compose import (
    DOCKERIGNORE,
    INTERPOLATION,
    ROOT,
    check_jsonschema,
    env_example,
    interpolate,
    services,
)
from tests.support.processes import wait_until

REDIS_OVERRIDE = ROOT / "compose.redis-published.yaml"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
BUILT = sorted(name for name, service in services().items() if "build" in service)


def override() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(REDIS_OVERRIDE.read_text())


# --- image names -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILT)
def test_images_are_named_under_a_registry_prefix(name: str) -> None:
    image = services()[name]["image"]
    target = services()[name]["build"]["target"]
    assert (
        image == f"${{DIGITBOT_IMAGE_PREFIX:-localhost/digitbot}}/{target}:${{DIGITBOT_TAG:-local}}"
    )
    # Unset, the name has a registry host of its own, so nothing is looked up on Docker Hub
    # (a first path component without "." or ":" that is not "localhost" means docker.io).
    default = interpolate(image)
    assert default.split("/")[0] == "localhost"
    mine = interpolate(
        image, {"DIGITBOT_IMAGE_PREFIX": "ghcr.io/acme/digitbot", "DIGITBOT_TAG": "7"}
    )
    assert mine == f"ghcr.io/acme/digitbot/{target}:7"


def test_the_image_prefix_is_documented_with_its_default() -> None:
    assert env_example()["DIGITBOT_IMAGE_PREFIX"] == "localhost/digitbot"
    assert "DIGITBOT_IMAGE_PREFIX" in DEPLOY_DOC.read_text()


# --- Redis: not on the host unless asked, password out of the command --------------------------


def test_redis_is_not_published_on_the_host_by_default() -> None:
    assert "ports" not in services()["redis"]
    for name, service in services().items():
        assert "network_mode" not in service, f"{name} would share the host's network"


def test_the_override_file_publishes_redis_on_loopback_unless_told_an_address() -> None:
    result = check_jsonschema(REDIS_OVERRIDE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(override()["services"]) == {"redis"}
    [published] = override()["services"]["redis"]["ports"]
    assert interpolate(published) == "127.0.0.1:6379:6379"
    assert (
        interpolate(published, {"DIGITBOT_REDIS_PUBLISH": "10.0.0.5:6379"}) == "10.0.0.5:6379:6379"
    )
    example = env_example()
    assert "compose.redis-published.yaml" in REDIS_OVERRIDE.read_text()  # says how to add it
    assert example["DIGITBOT_REDIS_PUBLISH"] == "127.0.0.1:6379"
    assert "COMPOSE_FILE=compose.yaml:compose.redis-published.yaml" in DEPLOY_DOC.read_text()
    for match in INTERPOLATION.finditer(REDIS_OVERRIDE.read_text()):
        assert match["name"] in example, f".env.example lacks {match['name']}"


def test_deployment_files_stay_out_of_the_build_context() -> None:
    patterns = DOCKERIGNORE.read_text().split()
    assert "compose.*.yaml" in patterns and "compose.yaml" in patterns


def redis_script() -> str:
    command = services()["redis"]["command"]
    assert command[:2] == ["sh", "-c"], command
    return str(command[2])


def test_the_redis_password_is_not_in_the_command() -> None:
    # `docker inspect` shows the command as compose interpolated it: no password may be there.
    assert "REDIS_PASSWORD:" not in yaml.safe_dump(services()["redis"]["command"])
    assert "requirepass" not in " ".join(redis_script().splitlines()[0].split()[1:])
    environment = services()["redis"]["environment"]
    assert environment["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    # The image's entrypoint runs first: it hands /data to the redis user and drops root.
    assert redis_script().startswith("exec docker-entrypoint.sh redis-server - ")


@pytest.fixture()
def compose_redis(tmp_path: Path) -> Iterator[tuple[int, str, subprocess.Popen[bytes]]]:
    """The compose Redis command, run by sh as in the container, with a local redis-server in
    place of the image's entrypoint and a free port; (port, password, process)."""
    port, password = free_port(), "s3cretHEXpassword0123"
    script = redis_script().replace(
        "docker-entrypoint.sh redis-server -",
        f"{find_redis_server()} - --port {port} --dir {tmp_path} --save ''",
        1,
    )
    script = script.replace("$$", "$")  # compose's escape, as `docker compose` resolves it
    environment = {"PATH": os.environ["PATH"], "REDIS_PASSWORD": password}
    process = subprocess.Popen(
        ["sh", "-c", script], env=environment, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield port, password, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_redis_command_sets_the_password_and_shows_it_nowhere(
    compose_redis: tuple[int, str, subprocess.Popen[bytes]],
) -> None:
    port, password, process = compose_redis
    with_password = redis.Redis(port=port, password=password, socket_timeout=5)
    assert wait_until(lambda: _answers(with_password), timeout=30), "redis-server did not start"
    assert with_password.config_get("appendonly") == {"appendonly": "yes"}
    assert with_password.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port, socket_timeout=5).ping()
    # exec: redis-server is the process sh started, and its command line holds no password.
    cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
    assert b"redis-server" in cmdline and password.encode() not in cmdline
    with_password.close()


def _answers(connection: redis.Redis) -> bool:
    try:
        return bool(connection.ping())
    except redis.exceptions.RedisError:
        return False


# --- the web page behind a reverse proxy --------------------------------------------------------


def test_the_trusted_proxy_setting_reaches_the_web_server() -> None:
    value = services()["web"]["environment"]["DIGITBOT_WEB_TRUSTED_PROXY"]
    assert value == "${DIGITBOT_WEB_TRUSTED_PROXY:-}"
    assert interpolate(value, {"DIGITBOT_WEB_TRUSTED_PROXY": "172.18.0.1"}) == "172.18.0.1"
    assert interpolate(value) == ""  # unset: the settings read "" as unset, no proxy trusted


def test_the_trusted_proxy_is_documented_where_the_proxy_is() -> None:
    assert "DIGITBOT_WEB_TRUSTED_PROXY" in env_example()
    proxy_section = DEPLOY_DOC.read_text().split("**Behind a TLS reverse proxy.**", 1)
    assert len(proxy_section) == 2, "docs/deploy.md has no section on the reverse proxy"
    assert re.search(r"DIGITBOT_WEB_TRUSTED_PROXY", proxy_section[1].split("\n\n")[0])


# --- digitbot bench where benchmarks/ is not ----------------------------------------------------


def test_bench_says_the_benchmarks_are_not_there_in_an_image() -> None:
    assert "benchmarks/" in DOCKERIGNORE.read_text().split()  # so images lack it
    # As in an image: no benchmarks package to import.
    code = (
        "import sys; sys.modules['benchmarks'] = None\n"
        "from digitbot.cli import main\n"
        "raise SystemExit(main(['bench', '--only', 'training']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("digitbot bench: the benchmarks are not installed here")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
