"""Tables by face size: compact rows from per-size reports and their Markdown."""

from __future__ import annotations

from typing import Any

import pytest

from facelog.training.evaluate import size_summary, size_table_markdown


def _report(mae: float, acc: float) -> dict[str, Any]:
    return {
        "n": 3,
        "age": {"mae": mae, "cs5": 0.5, "buckets": [{"range": "0-12", "n": 1, "mae": mae}]},
        "gender": {"acc": acc, "acc_by_age": [{"range": "0-12", "acc": acc, "n": 1}]},
    }


def test_size_summary_merges_gender_into_age_buckets() -> None:
    s = size_summary({"full": _report(4.0, 0.9), "32px": _report(6.5, 0.8)})
    assert list(s) == ["full", "32px"]
    assert s["32px"]["mae"] == 6.5 and s["32px"]["gender_acc"] == 0.8
    assert s["32px"]["buckets"] == [{"range": "0-12", "n": 1, "mae": 6.5, "gender_acc": 0.8}]


def test_size_table_markdown_has_one_row_per_size_and_bucket() -> None:
    md = size_table_markdown(size_summary({"full": _report(4.0, 0.9), "32px": _report(6.5, 0.8)}), "r")
    assert "| full | 3 | 4.00 | 0.500 | 90.0% |" in md
    assert "| 32px | 3 | 6.50 | 0.500 | 80.0% |" in md
    assert "| 0-12 | 1 | 4.00 / 90.0% | 6.50 / 80.0% |" in md


def test_size_summary_empty_and_gender_only() -> None:
    assert size_summary({}) == {}
    s = size_summary({"full": {"n": 2, "gender": {"acc": 1.0}}})
    assert s["full"] == {"n": 2, "gender_acc": 1.0}
    assert "| full | 2 | nan | nan | 100.0% |" in size_table_markdown(s, "r")
    with pytest.raises(KeyError):
        size_summary({"full": {"age": {}}})
