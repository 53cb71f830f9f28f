"""A worker process computes on as many threads as DIGITBOT_COMPUTE_THREADS says, OpenCV's
pool included: one photo per core, no pools fighting over the cores."""

from __future__ import annotations

import os

import cv2
import pytest

from worker.rq_worker import limit_compute_threads


def test_opencv_and_tensorflow_get_the_compute_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.setenv(name, "")  # so that the test's end puts the variable back as it was
        monkeypatch.delenv(name)
    before = cv2.getNumThreads()
    try:
        limit_compute_threads(1)
        assert cv2.getNumThreads() == 1
        assert os.environ["OMP_NUM_THREADS"] == os.environ["TF_NUM_INTRAOP_THREADS"] == "1"
        limit_compute_threads(2)
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)
