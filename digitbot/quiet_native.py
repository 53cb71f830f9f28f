"""Keep TensorFlow's native start-up lines off users' terminals.

On some CPUs TensorFlow's C++ core writes lines such as "oneDNN custom operations are on" and
"All log messages before absl::InitializeLog() is called are written to STDERR" straight to
file descriptor 2 while it is imported, whatever TF_CPP_MIN_LOG_LEVEL says. Python's
`sys.stderr` cannot catch them, so `import_keras` points descriptor 2 at a temporary file for
the import, then logs what was written at DEBUG on the "digitbot.native" logger.

Imports neither TensorFlow nor Keras at module level: the bot imports this package's core.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

logger = logging.getLogger("digitbot.native")

__all__ = ["captured_native_stderr", "import_keras"]


@contextlib.contextmanager
def captured_native_stderr() -> Iterator[list[str]]:
    """Send everything written to descriptor 2 inside the block to a list of lines.

    The list is filled when the block ends (also when it raises). Python-level writes to
    `sys.stderr` inside the block are captured too, so keep the block short.
    """
    lines: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (a daemon with closed streams): nothing to hide
        yield lines
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            lines.extend(line for line in text.splitlines() if line.strip())


def import_keras() -> ModuleType:
    """Import Keras (and its TensorFlow backend) with the native start-up lines logged at DEBUG
    instead of printed. Later calls return the already imported module."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with captured_native_stderr() as lines:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            # The CPU feature line is written when the first device is created, not at import.
            tf.config.list_logical_devices("CPU")
    for line in lines:
        logger.debug("%s", line)
    return keras
