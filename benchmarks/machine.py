"""A one-paragraph description of the machine a benchmark ran on."""

from __future__ import annotations

import datetime as dt
import os
import platform
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Machine:
    date: str
    cpu_model: str
    cores: int
    memory_gib: float
    load_average: tuple[float, float, float]
    python: str
    tensorflow: str
    keras: str
    platform: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        load = ", ".join(f"{value:.2f}" for value in self.load_average)
        return (
            f"{self.cpu_model}, {self.cores} cores, {self.memory_gib:.1f} GiB RAM; "
            f"Python {self.python}, TensorFlow {self.tensorflow}, Keras {self.keras}; "
            f"{self.platform}; load average at start {load}"
        )


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The "model name" line of /proc/cpuinfo, or the platform's processor string."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib(meminfo: Path = Path("/proc/meminfo")) -> float:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return float("nan")


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe_machine() -> Machine:
    """Read the machine's description now (no TensorFlow import needed)."""
    tensorflow = package_version("tensorflow-cpu")
    if tensorflow == "not installed":
        tensorflow = package_version("tensorflow")
    return Machine(
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        cpu_model=cpu_model(),
        cores=os.cpu_count() or 0,
        memory_gib=memory_gib(),
        load_average=os.getloadavg(),
        python=platform.python_version(),
        tensorflow=tensorflow,
        keras=package_version("keras"),
        platform=f"{platform.system()} {platform.release()}",
    )
