"""Time-budgeted cosine schedule and the epoch planning behind ``optim.max_minutes``."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")

from facelog.training.schedule import BudgetCosine, epochs_in_budget


@pytest.mark.parametrize(
    "done, elapsed, epoch_s, budget, planned, want",
    [
        (1, 60, 60, 3000, 42, 42),  # 49 more fit, the plan stays 42
        (10, 600, 80, 3000, 42, 40),  # 30 more fit: plan shrinks to 40
        (10, 600, 60, 3000, 30, 30),  # faster now, but the plan never grows
        (20, 2990, 80, 3000, 40, 20),  # nothing more fits: stop now
        (20, 3100, 80, 3000, 40, 20),  # over budget: never below what is done
    ],
    ids=["fits", "shrinks", "never-grows", "stop", "over"],
)
def test_epochs_in_budget(
    done: int, elapsed: float, epoch_s: float, budget: float, planned: int, want: int
) -> None:
    assert epochs_in_budget(done, elapsed, epoch_s, budget, planned) == want


def test_epochs_in_budget_rejects_zero_epoch_time() -> None:
    with pytest.raises(ValueError, match="epoch_s must be > 0, got 0"):
        epochs_in_budget(1, 0, 0, 100, 5)


def test_budget_cosine_warms_up_anneals_and_can_end_sooner() -> None:
    s = BudgetCosine(peak=1.0, warmup_steps=10, total_steps=110)
    assert float(s(0)) == pytest.approx(0.05)
    assert float(s(10)) == pytest.approx(1.0)
    assert float(s(60)) == pytest.approx(0.01 + 0.99 * 0.5, rel=1e-5)
    assert float(s(110)) == pytest.approx(0.01)
    assert float(s(500)) == pytest.approx(0.01)
    s.set_total_steps(60)
    assert float(s(60)) == pytest.approx(0.01)
    assert float(s(35)) == pytest.approx(0.01 + 0.99 * 0.5, rel=1e-5)
