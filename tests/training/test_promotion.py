"""Promotion gates accept a model that is not worse and refuse one that is."""

from training.promotion import MIN_CORRECTIONS, Scores, decide

CHAMPION = Scores(0.9960, 0.90, 50, {"mnist-single": 0.97, "numbers": 0.92})


def test_better_candidate_is_promoted_with_every_number_recorded() -> None:
    candidate = Scores(0.9968, 0.93, 50, {"mnist-single": 0.98, "numbers": 0.92})
    decision = decide(candidate, CHAMPION, canary_ok=True)
    assert decision.promote
    assert [g.name for g in decision.gates] == [
        "canary",
        "mnist",
        "corrections",
        "photos/mnist-single",
        "photos/numbers",
    ]
    assert "mnist 99.68% vs champion 99.60%" in decision.summary
    assert decision.to_dict()["champion"]["mnist_accuracy"] == 0.9960


def test_worse_on_mnist_is_refused() -> None:
    candidate = Scores(0.9950, 0.95, 50, {"mnist-single": 0.99, "numbers": 0.95})
    decision = decide(candidate, CHAMPION, canary_ok=True)
    assert not decision.promote
    assert decision.summary.startswith("refused: mnist")


def test_tiny_mnist_difference_within_tolerance_is_not_a_refusal() -> None:
    candidate = Scores(0.9957, 0.90, 50, {"mnist-single": 0.97, "numbers": 0.92})
    assert decide(candidate, CHAMPION, canary_ok=True).promote


def test_worse_on_held_out_corrections_is_refused() -> None:
    candidate = Scores(0.9970, 0.80, 50, {"mnist-single": 0.97, "numbers": 0.92})
    decision = decide(candidate, CHAMPION, canary_ok=True)
    assert not decision.promote and "corrections" in decision.summary


def test_too_few_corrections_do_not_gate() -> None:
    candidate = Scores(0.9970, 0.50, MIN_CORRECTIONS - 1, {"mnist-single": 0.97})
    decision = decide(candidate, CHAMPION, canary_ok=True)
    assert decision.promote
    assert "corrections" not in [g.name for g in decision.gates]


def test_worse_photo_set_is_refused() -> None:
    candidate = Scores(0.9970, 0.95, 50, {"mnist-single": 0.97, "numbers": 0.88})
    decision = decide(candidate, CHAMPION, canary_ok=True)
    assert not decision.promote and "photos/numbers" in decision.summary


def test_failed_canary_refuses_even_a_better_model() -> None:
    candidate = Scores(0.9990, 0.99, 50, {"mnist-single": 0.99, "numbers": 0.99})
    decision = decide(candidate, CHAMPION, canary_ok=False, canary_detail="cannot load")
    assert not decision.promote and "canary: cannot load" in decision.summary


def test_first_model_needs_only_the_canary() -> None:
    assert decide(Scores(0.5), None, canary_ok=True).promote
