"""The command line's conventions: results on stdout, messages and errors on stderr as one line
`digitbot <command>: <message>`, exit 2 for usage/configuration and 1 for a failure, no
traceback unless --debug, a closed stdout ends quietly, and every option's help shows its
default. The CLI runs as a subprocess, as a user runs it. Only the `predict` tests (and the
`--arch` help check) load TensorFlow."""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
import redis
from PIL import Image

from digitbot import cli
from digitbot.redis_server import EmbeddedRedis
from digitbot.registry import ModelRegistry
from tests.support.photos import digit_photo

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 300
PASSWORD = "hunter2-not-shown"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digitbot.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env or base_env(),
        timeout=TIMEOUT,
    )


def run_cli_bytes(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "digitbot.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        env=base_env(),
        timeout=TIMEOUT,
    )


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DIGITBOT_MODEL_PATH")}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def one_png(seed: int) -> bytes:
    """A photo-like PNG of a drawn "1" (a vertical stroke), no MNIST download needed."""
    stroke = np.zeros((28, 28), np.uint8)
    stroke[4:24, 12:16] = 255
    return digit_photo(stroke, seed=seed, document=True)


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    """DIR/a.png and DIR/b.png (two 1s), DIR/notes.txt (skipped in a directory), DIR/sub/c.png
    (read with -r only), and beside DIR a text file and a file of random bytes."""
    folder = tmp_path / "digits"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.png").write_bytes(one_png(2))
    (folder / "a.png").write_bytes(one_png(1))
    (folder / "notes.txt").write_text("not an image, and not read from a directory")
    (folder / "sub" / "c.png").write_bytes(one_png(3))
    (tmp_path / "letter.txt").write_text("Dear reader, this is text.\n")
    (tmp_path / "noise.bin").write_bytes(np.random.default_rng(0).bytes(4096))
    return folder


# --- predict (these load TensorFlow) ----------------------------------------------------------


def test_predict_results_on_stdout_failures_on_stderr_and_exit_1(images: Path) -> None:
    root = images.parent
    missing, text, noise = root / "missing.png", root / "letter.txt", root / "noise.bin"
    done = run_cli_bytes(
        "predict", str(images), str(missing), str(text), str(noise), "-", stdin=one_png(4)
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 1, err
    assert "Traceback" not in out + err
    # A directory: its images, sorted; not its text file, not its subdirectory without -r.
    names = [line.split(": ", 1)[0] for line in out.splitlines()]
    assert names == [str(images / "a.png"), str(images / "b.png"), "-"]
    assert all(": 1 — " in line for line in out.splitlines()), out
    failed = error_lines(err)
    assert len(failed) == 3, err
    assert failed[0].startswith(f"{missing}: error: cannot open")
    assert failed[1].startswith(f"{text}: error: not an image")
    assert failed[2].startswith(f"{noise}: error: not an image")
    assert "Please send" not in err  # the bot's wording stays in the bot


def test_predict_json_keeps_failures_on_stdout_and_recursive_reads_subdirectories(
    images: Path,
) -> None:
    root = images.parent
    done = run_cli("predict", "--json", "-r", str(images), str(root / "letter.txt"))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["file"] for r in records] == [
        str(images / "a.png"),
        str(images / "b.png"),
        str(images / "sub" / "c.png"),
        str(root / "letter.txt"),
    ]
    assert [r["text"] for r in records[:3]] == ["1", "1", "1"]
    assert all("error" not in r for r in records[:3])
    assert records[3]["text"] == "" and records[3]["error"].startswith("not an image")
    assert "letter.txt" not in done.stderr  # with --json the failure is in the JSON only


def test_predict_exits_0_when_every_image_is_read(images: Path) -> None:
    """...an iPhone's HEIC among them."""
    heic = images.parent / "IMG_0001.HEIC"
    photo = Image.open(io.BytesIO(one_png(5))).convert("RGB")
    pillow_heif.from_pillow(photo).save(heic, quality=90)
    done = run_cli("predict", str(images / "a.png"), str(images / "b.png"), str(heic))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3
    assert done.stdout.splitlines()[2].startswith(f"{heic}: 1 — ")
    assert "Traceback" not in done.stderr
    assert not [line for line in error_lines(done.stderr) if "error" in line]


# --- errors as one line (no TensorFlow) -------------------------------------------------------


def test_predict_missing_model_is_one_line_and_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("predict", "--model", "missing.keras", str(tmp_path / "x.png"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert error_lines(done.stderr) == ["digitbot predict: --model missing.keras: no such file"]


def test_redis_down_is_one_line_naming_host_and_port_without_password() -> None:
    port = closed_port()
    env = base_env(REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
    done = run_cli("models", "list", env=env)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("digitbot models list: cannot reach Redis at ")
    assert f"127.0.0.1:{port}" in lines[0]
    assert PASSWORD not in done.stderr


def test_debug_shows_the_traceback() -> None:
    port = closed_port()
    env = base_env(REDIS_URL=f"redis://127.0.0.1:{port}/0")
    done = run_cli("--debug", "models", "list", env=env)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "ConnectionError" in done.stderr


def test_missing_configuration_exits_2() -> None:
    done = run_cli("models", "list")  # REDIS_URL unset
    assert done.returncode == 2
    assert done.stdout == ""
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("digitbot models list: REDIS_URL is not set")


def test_healthcheck_still_answers_1_not_2() -> None:
    done = run_cli("healthcheck", "redis", env=base_env())  # REDIS_URL unset: configuration
    assert done.returncode == 1
    done = run_cli(
        "healthcheck", "redis", env=base_env(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr


# --- models against a real Redis --------------------------------------------------------------


@pytest.fixture()
def registry_env(redis_server: EmbeddedRedis, redis_conn: redis.Redis) -> dict[str, str]:
    """A registry whose champion's metadata is ~1 MB of JSON: more than a pipe holds, so the
    command is still writing when its reader goes away."""
    registry = ModelRegistry(redis_conn)
    notes = [f"note {i}: " + "x" * 100 for i in range(10_000)]
    registry.publish(b"not a real model", {"version": "v-big", "arch": "mlp", "notes": notes})
    registry.promote("v-big", reason="test")
    return base_env(REDIS_URL=redis_server.url)


def test_models_show_into_a_reader_that_closes_early_ends_quietly(
    registry_env: dict[str, str],
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "digitbot.cli", "models", "show"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=registry_env,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(1) == b"{"
    process.stdout.close()
    stderr = process.stderr.read().decode()
    returncode = process.wait(timeout=TIMEOUT)
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    assert stderr.strip() == ""
    assert returncode == cli.EXIT_BROKEN_PIPE


def test_models_show_through_head_has_no_traceback(registry_env: dict[str, str]) -> None:
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m digitbot.cli models show | head -c1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=registry_env,
        timeout=TIMEOUT,
    )
    assert done.stdout == "{"
    assert "Traceback" not in done.stderr and done.stderr.strip() == ""
    assert done.returncode == cli.EXIT_BROKEN_PIPE


def test_models_messages_on_stderr_and_results_on_stdout(registry_env: dict[str, str]) -> None:
    shown = run_cli("models", "show", env=registry_env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["version"] == "v-big"
    unknown = run_cli("models", "show", "no-such-version", env=registry_env)
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert error_lines(unknown.stderr) == [
        "digitbot models show: no model version 'no-such-version' in the registry"
    ]
    promote = run_cli("models", "promote", env=registry_env)
    assert promote.returncode == 2
    assert promote.stdout == ""
    assert len(error_lines(promote.stderr)) == 1
    assert error_lines(promote.stderr)[0].startswith("digitbot models promote: name the version")


def test_retrain_already_queued_is_one_line_on_stderr_and_exit_1(
    registry_env: dict[str, str],
) -> None:
    first = run_cli("retrain", env=registry_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("retraining queued")
    again = run_cli("retrain", env=registry_env)
    assert again.returncode == 1
    assert again.stdout == ""
    assert error_lines(again.stderr) == [
        "digitbot retrain: a retraining is already queued; not starting another"
    ]


# --- up: what it refuses before starting anything ---------------------------------------------


PLACEHOLDER = "TELEGRAM_BOT_TOKEN is a placeholder, not a bot token"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"TELEGRAM_BOT_TOKEN": "changeme"}, PLACEHOLDER),
        ({"TELEGRAM_BOT_TOKEN": "<token>"}, PLACEHOLDER),
        ({"DIGITBOT_WEB_USER": "ops"}, "DIGITBOT_WEB_PASSWORD is not set"),
    ],
)
def test_up_refuses_a_placeholder_token_or_half_a_login_before_starting(
    tmp_path: Path, extra: dict[str, str], says: str
) -> None:
    home = tmp_path / "home"
    env = base_env(DIGITBOT_HOME=str(home), **extra)
    for name in ("TELEGRAM_BOT_TOKEN", "DIGITBOT_WEB_USER", "DIGITBOT_WEB_PASSWORD"):
        if name not in extra:
            env.pop(name, None)
    done = run_cli("up", "--redis-port", str(closed_port()), env=env)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"digitbot up: {says}"), done.stderr
    assert not (home / "redis").exists()  # no embedded Redis was started


# --- help text and start-up -------------------------------------------------------------------


def test_building_the_parser_loads_no_tensorflow() -> None:
    code = (
        "import sys; from digitbot.cli import build_parser; build_parser(); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False False"


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser, **action.choices}


def test_every_option_with_a_default_shows_it_in_its_help() -> None:
    missing = []
    for name, parser in subparsers().items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.default in (None, argparse.SUPPRESS) or action.default is False:
                continue
            if not (action.option_strings or action.nargs in ("?", "*")):
                continue
            text = formatter._expand_help(action) if action.help else ""
            if "default" not in text:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
    assert "(default: 200)" in subparsers()["evaluate"].format_help()
    assert "(default: 6399)" in subparsers()["up"].format_help()


def test_models_help_describes_each_action() -> None:
    text = subparsers()["models"].format_help()
    for action, what in cli.MODELS_ACTIONS.items():
        assert f"{action:9} {what}" in text


def test_train_arch_offers_the_architectures_as_choices() -> None:
    from training.architectures import ARCHITECTURES  # loads Keras

    arch = subparsers()["train"]._option_string_actions["--arch"]
    assert list(arch.choices or ()) == list(ARCHITECTURES)
    text = " ".join(subparsers()["train"].format_help().split())
    assert "one of: " + ", ".join(ARCHITECTURES) in text.replace("- ", "-")


def test_an_unknown_architecture_is_a_usage_error_naming_the_choices() -> None:
    done = run_cli("train", "--arch", "resnet")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "invalid choice: 'resnet'" in done.stderr and "digitnet" in done.stderr
    assert "Traceback" not in done.stderr


def test_every_positional_and_option_has_help() -> None:
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in subparsers().items()
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    assert missing == []


# --- in-process: the handler's rules ----------------------------------------------------------


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "dispatch", interrupted)
    assert cli.main(["retrain"]) == 130


def test_an_unexpected_error_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def buggy(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "dispatch", buggy)
    with pytest.raises(ZeroDivisionError):
        cli.main(["retrain"])


@pytest.mark.parametrize(
    ("url", "where"),
    [
        (f"redis://:{PASSWORD}@redis.internal:6380/0", "redis.internal:6380"),
        (f"redis://user:{PASSWORD}@10.0.0.5/2", "10.0.0.5:6379"),
        ("rediss://[::1]:7000", "[::1]:7000"),
        ("unix:///run/redis.sock?db=1", "/run/redis.sock"),
    ],
)
def test_redis_location_never_shows_the_password(url: str, where: str) -> None:
    assert cli.redis_location(url) == where


def test_evaluate_with_an_unknown_source_is_a_usage_error_before_anything_loads(
    tmp_path: Path,
) -> None:
    from digitbot.errors import ConfigurationError
    from training.cross_source import SOURCES, run_cross_source

    with pytest.raises(ConfigurationError) as raised:  # not the missing model: checked first
        run_cross_source(tmp_path, n=1, sources=["benchmark", "nope"], model_path=tmp_path / "m")
    assert cli.describe_error(raised.value) == (
        f"--sources benchmark,nope: expected some of {', '.join(SOURCES)}",
        cli.EXIT_USAGE,
    )


def test_domain_errors_map_to_exit_codes() -> None:
    from digitbot.errors import ConfigurationError, ModelError, NotAnImageError

    assert cli.describe_error(ConfigurationError("set X\nplease")) == ("set X please", 2)
    assert cli.describe_error(ModelError("no model")) == ("no model", 1)
    assert cli.describe_error(NotAnImageError("nope")) == ("nope", 1)
    assert cli.describe_error(FileNotFoundError(2, "No such file or directory", "a.png")) == (
        "a.png: No such file or directory",
        1,
    )
    assert cli.describe_error(ValueError("a bug")) is None
