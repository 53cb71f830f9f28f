"""The retraining report people read: what was trained, every gate, and the corrections'
accuracy before (the champion) and after (the candidate), beside the job's decision.json."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from digitbot.retrain import describe_corrections
from training.promotion import Decision

REPORT_FILE = "retraining.md"


def corrections_comparison(
    decision: Decision, *, champion: str | None, candidate: str
) -> dict[str, Any]:
    """Champion (before) and candidate (after) on the same held-out corrections."""
    return {
        "held_out": decision.candidate.corrections_count,
        "before": decision.champion.corrections_accuracy if decision.champion else None,
        "after": decision.candidate.corrections_accuracy,
        "champion": champion if decision.champion is not None else None,
        "candidate": candidate,
    }


def write_report(out_dir: Path, outcome: Mapping[str, Any]) -> Path:
    """Write `retraining.md` for one retraining outcome; return its path."""
    comparison = outcome["corrections"]
    verdict = "promoted" if outcome["outcome"] == "promoted" else "not promoted"
    lines = [
        f"# Retraining {outcome['version']}",
        "",
        f"Outcome: {verdict}; the champion is now {outcome['champion']}.",
        f"MNIST test accuracy of the candidate: {100 * outcome['test_accuracy']:.2f}%.",
        f"Corrected digits: {outcome.get('corrections_train', 0)} trained on, "
        f"{outcome.get('corrections_held_out', 0)} held out (split by user).",
        "",
        "## Held-out corrections",
        "",
        describe_corrections(comparison),
        "",
        "| model | version | accuracy on held-out corrections |",
        "|---|---|---|",
        f"| champion (before) | {comparison['champion'] or '—'} | {_cell(comparison['before'])} |",
        f"| candidate (after) | {comparison['candidate']} | {_cell(comparison['after'])} |",
        "",
        "## Gates",
        "",
        *(
            f"- {'passed' if gate['passed'] else 'FAILED'} {gate['name']}: {gate['detail']}"
            for gate in outcome["decision"]["gates"]
        ),
        "",
    ]
    path = out_dir / REPORT_FILE
    path.write_text("\n".join(lines))
    return path


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"
