"""Progress of a long step for the person who started it: first-time MNIST download, rendering
training photos, `digitbot evaluate`, the epochs of `digitbot train`.

On a terminal it is a tqdm bar on stderr. Anywhere else (a file, a pipe, a container's log) tqdm
stays off (`disable=None`) and the progress becomes a plain log line at every tenth of the work,
so a log file gets neither carriage returns nor ANSI codes. Results never go this way: they are
printed on stdout by the commands.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm

# Plain lines: one each time another tenth of the work is done, and one at the end.
PLAIN_LINES = 10
# Keras' steps in an epoch from which plain lines also mark each quarter of the epoch.
EPOCH_STEPS_FOR_QUARTERS = 200


class ProgressBar:
    """Counts `total` units of work (None: unknown) as a tqdm bar on `stream` (default
    stderr) when it is a terminal, else as plain lines logged to `log` at INFO."""

    def __init__(
        self,
        description: str,
        total: int | None,
        *,
        log: logging.Logger,
        unit: str = "it",
        unit_scale: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.unit_scale = unit_scale
        self.done = 0
        self._log = log
        self._bar = tqdm(
            total=total,
            desc=description,
            unit=unit,
            unit_scale=unit_scale,
            file=stream if stream is not None else sys.stderr,
            disable=None,  # off unless the stream is a terminal
            dynamic_ncols=True,
        )
        self._tenths_shown = 0
        self._closed = False

    @property
    def is_bar(self) -> bool:
        """True when a tqdm bar shows the progress, False for plain lines."""
        return not self._bar.disable

    def update(self, amount: int = 1) -> None:
        self.done += amount
        if self.is_bar:
            self._bar.update(amount)
            return
        if not self.total or self.done >= self.total:
            return  # the line at the end says it
        tenths = PLAIN_LINES * self.done // self.total
        if tenths > self._tenths_shown:
            self._tenths_shown = tenths
            self._log.info("%s", self.line())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.is_bar:
            self._bar.close()
        else:
            self._log.info("%s", self.line())

    def line(self) -> str:
        """`description: done/total unit (percent)`, the plain line."""
        if not self.total:
            return f"{self.description}: {self._amount(self.done)}"
        percent = 100 * self.done // self.total
        return f"{self.description}: {self._amount(self.done, self.total)} ({percent}%)"

    def _amount(self, done: int, total: int | None = None) -> str:
        if self.unit_scale:
            shown = tqdm.format_sizeof(done, self.unit)
            return shown if total is None else f"{shown}/{tqdm.format_sizeof(total, self.unit)}"
        shown = f"{done:,}" if total is None else f"{done:,}/{total:,}"
        return f"{shown} {self.unit}"

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def plain_epoch_lines(log: logging.Logger) -> Any:
    """A Keras callback that logs training progress as plain lines (for `fit(verbose=0)` where
    stderr is no terminal: Keras' own bar always writes carriage returns and ANSI codes). One
    line per epoch with its metrics; a long epoch also gets a line at each quarter."""
    import keras  # only where training runs

    class PlainEpochLines(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
            self.num_epochs = int(self.params.get("epochs") or 0)
            self.num_steps = int(self.params.get("steps") or 0)
            self.epoch = 0
            self.quarters_shown = 0

        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.epoch = epoch + 1
            self.quarters_shown = 0

        def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
            if self.num_steps < EPOCH_STEPS_FOR_QUARTERS:
                return
            quarters = 4 * (batch + 1) // self.num_steps
            if 0 < quarters < 4 and quarters > self.quarters_shown:
                self.quarters_shown = quarters
                log.info(
                    "epoch %d/%d: %d%% (%d/%d steps)", self.epoch, self.num_epochs,
                    25 * quarters, batch + 1, self.num_steps,
                )  # fmt: skip

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            log.info("epoch %d/%d: %s", epoch + 1, self.num_epochs, format_metrics(logs or {}))

    return PlainEpochLines()


def format_metrics(logs: dict[str, float]) -> str:
    """`accuracy 98.71%, loss 0.0412, val_accuracy 99.02%, val_loss 0.0330`: accuracies in
    percent, training metrics before validation ones."""
    parts = []
    for name in sorted(logs, key=lambda name: (name.startswith("val_"), name)):
        if name == "learning_rate":
            continue
        number = float(logs[name])
        shown = f"{100 * number:.2f}%" if name.endswith("accuracy") else f"{number:.4f}"
        parts.append(f"{name} {shown}")
    return ", ".join(parts)
