import numpy as np

from reading.calibration import apply_temperature, expected_calibration_error, fit_temperature


def test_temperature_sharpens_underconfident_outputs_and_keeps_the_ranking() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=2000)
    # A model that is always right but only ~91% sure (what label smoothing produces).
    probabilities = np.full((2000, 10), 0.01)
    probabilities[np.arange(2000), labels] = 0.91
    temperature = fit_temperature(probabilities, labels)
    calibrated = apply_temperature(probabilities, temperature)
    assert temperature < 0.5
    assert (calibrated.argmax(1) == probabilities.argmax(1)).all()
    assert np.allclose(calibrated.sum(1), 1.0)
    assert (
        expected_calibration_error(calibrated, labels)
        < expected_calibration_error(probabilities, labels) / 10
    )


def test_overconfident_wrong_half_is_softened() -> None:
    labels = np.array([0, 1] * 500)
    probabilities = np.full((1000, 10), 0.001)
    probabilities[:, 0] = 0.991  # always says 0: right half the time, yet 99% sure
    temperature = fit_temperature(probabilities, labels)
    assert temperature > 1.0
    assert apply_temperature(probabilities, temperature).max(1).mean() < 0.9


def test_temperature_one_is_identity() -> None:
    p = np.array([[0.7, 0.2, 0.1]])
    assert apply_temperature(p, 1.0) is p
