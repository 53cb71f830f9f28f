"""docs/configuration.md, generated from the settings object: one table of every variable.

    python -m digitbot.settings_doc > docs/configuration.md

tests/test_settings.py fails while the file in the repository differs from this output.
"""

from __future__ import annotations

import sys
from typing import Any

from digitbot.setting_fields import is_secret, kind, shown_default
from digitbot.settings import Settings

REGENERATE = "python -m digitbot.settings_doc > docs/configuration.md"
HEADER = f"""\
# Configuration

<!-- Generated from digitbot/settings.py: edit the settings there, then regenerate this file with
     {REGENERATE}
     (tests/test_settings.py fails while it is out of date). -->

Every digitbot process (bot, workers, scheduler, web page, command line) reads these environment
variables through one object, `digitbot.settings.Settings`. An empty value counts as unset. A
value digitbot cannot use stops the process at start with one line that names the variable and
what it expects (`digitbot` exits with status 2); secrets never appear in logs or messages.

"""
FOOTER = """
Docker Compose reads a few variables of its own (`REDIS_PASSWORD`, `DIGITBOT_TAG`,
`DIGITBOT_*_REPLICAS`, `DIGITBOT_*_PROCESSES`, `DIGITBOT_*_PUBLISH`): see `.env.example` and
[deploy.md](deploy.md).
"""


def configuration_markdown(settings_cls: type[Settings] = Settings) -> str:
    """The whole of docs/configuration.md: every variable with its type, default and meaning."""
    rows = ["| variable | type | default | description |", "|---|---|---|---|"]
    for field in settings_cls.model_fields.values():
        cells = (
            f"`{field.alias}`",
            kind(field) + (", secret" if is_secret(field) else ""),
            shown_default(field) or _default_text(field.default),
            " ".join((field.description or "").split()),
        )
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return HEADER + "\n".join(rows) + "\n" + FOOTER


def _default_text(value: Any) -> str:
    if value is None or value == frozenset():
        return "—"
    if isinstance(value, bool):
        return f"`{int(value)}`"
    return f"`{value}`"


if __name__ == "__main__":
    sys.stdout.write(configuration_markdown())
