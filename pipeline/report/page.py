"""``report.html``: one self-contained page (charts inlined as SVG by matplotlib, no network, no script).

Per camera: people per period (stacked by gender, periods without video shaded), the gender share,
the age histogram, the dwell times of its people, and the table (in a collapsible block).
"""

from __future__ import annotations

import html
import io
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from facelog.pipeline.report.table import AGE_BIN_LABELS

COLOURS = {"female": "#dd8452", "male": "#4c72b0", "unknown": "#9a9a9a"}
TABLE_COLUMNS = (
    "period_start", "video_h", "no_video_h", "faces", "persons", "female", "male", "unknown",
    "female_share", "age_mean", "dwell_median_s", "dwell_p90_s", "skipped_files",
)  # fmt: skip
_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1280px;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.chart svg{width:100%;height:auto}
table{border-collapse:collapse;font-size:.8em}
td,th{padding:.15em .5em;text-align:right;border-bottom:1px solid #eee} .note{color:#555;font-size:.9em}
"""


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):  # text stays text: smaller, selectable
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg") :]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index runs where ``mask`` is True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _chart(rows: pd.DataFrame, persons: pd.DataFrame, by: str) -> str:
    """One camera's figure as inline SVG: people per period on top; gender, age and dwell below.

    One figure per camera (not four): matplotlib's fixed cost per figure dominates a month of cameras.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig = plt.figure(figsize=(12, 6.6))
    grid = fig.add_gridspec(2, 3, left=0.06, right=0.99, bottom=0.09, top=0.95, hspace=0.45, wspace=0.3)
    ax = fig.add_subplot(grid[0, :])
    x = np.arange(len(rows))
    # bars as one filled step outline per series (fill_between: a collection, fast for months of hours)
    xs = np.repeat(np.arange(len(rows) + 1) - 0.5, 2)[1:-1]
    bottom = np.zeros(len(rows))
    for g in ("male", "female", "unknown"):
        top = bottom + rows[g].to_numpy(np.float64)
        ax.fill_between(xs, np.repeat(bottom, 2), np.repeat(top, 2), color=COLOURS[g], label=g, lw=0)
        bottom = top
    length = (rows["video_h"] + rows["no_video_h"]).to_numpy(np.float64)
    down = np.where(length > 0, rows["no_video_h"].to_numpy(np.float64) / np.maximum(length, 1e-9), 0) > 0.5
    for lo, hi in _runs(down):
        ax.axvspan(lo - 0.5, hi - 0.5, color="#000", alpha=0.08, lw=0)
    step = max(1, int(np.ceil(len(rows) / 10)))
    label = (lambda s: s[5:16].replace("T", " ")) if by == "hour" else (lambda s: s[:10])
    ax.set_xticks(x[::step], [label(s) for s in rows["period_start"][::step]], fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("people")
    ax.set_title(f"People per {by} (grey: mostly no video)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_xlim(-0.5, max(len(rows), 1) - 0.5)

    ax = fig.add_subplot(grid[1, 0])
    names = ("female", "male", "unknown")
    totals = [int(rows[g].sum()) for g in names]
    known = totals[0] + totals[1]
    ax.barh(names, totals, color=[COLOURS[g] for g in names])
    for i, v in enumerate(totals):
        share = f" ({v / known:.0%})" if known and i < 2 else ""
        ax.annotate(f"{v}{share}", (v, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_xlabel("people")
    ax.set_title("Gender (share of known)")
    ax.margins(x=0.3)

    ax = fig.add_subplot(grid[1, 1])
    bins = [lab.removeprefix("age_").replace("_plus", "+").replace("_", "-") for lab in AGE_BIN_LABELS]
    ax.bar(bins, [int(rows[lab].sum()) for lab in AGE_BIN_LABELS], color="#55a868")
    ax.tick_params(axis="x", labelsize=7)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("people")
    ax.set_xlabel("age (years)")
    ax.set_title("Age histogram")

    ax = fig.add_subplot(grid[1, 2])
    dwell = persons["dwell_s"].to_numpy(np.float64)
    if len(dwell):
        ax.hist(dwell, bins=min(30, max(5, len(dwell) // 3)), color="#8172b3")
        med, p90 = np.median(dwell), np.quantile(dwell, 0.9)
        ax.axvline(med, color="#222", ls="--", lw=1, label=f"median {med:.1f} s")
        ax.axvline(p90, color="#c44e52", ls=":", lw=1.5, label=f"p90 {p90:.1f} s")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no people", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("seconds in view (first to last sighting)")
    ax.set_ylabel("people")
    ax.set_title("Dwell time")
    return _svg(fig)


def _table(rows: pd.DataFrame) -> str:
    """The rows as an HTML table (pandas' ``to_html`` takes seconds for a month of hours)."""
    cells = rows[list(TABLE_COLUMNS)].astype(object).where(rows[list(TABLE_COLUMNS)].notna(), "")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in TABLE_COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{v if isinstance(v, int | float) else html.escape(str(v))}</td>" for v in r)
        + "</tr>"
        for r in cells.itertuples(index=False, name=None)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_page(
    table: pd.DataFrame, persons: pd.DataFrame, by: str, tz: str, skipped: Counter[str], sources: list[str]
) -> str:
    """The HTML of the report page.

    Args:
        table: ``build_table``'s rows.
        persons: people (``status == "person"``) inside the report's periods: camera, dwell_s.
        by: "hour" or "day"; tz: the zone name shown; skipped: reason -> files; sources: paths read.
    """
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>facelog report</title><style>{_CSS}</style></head><body>",
        "<h1>facelog report: people per camera and " + esc(by) + "</h1>",
        f"<p class='note'>Periods in {esc(tz)}. Read: {esc(', '.join(sources))}. People are person tracks "
        "(static and no_face ones left out), placed in the period of their first sighting.</p>",
    ]
    if skipped:
        items = "".join(f"<li>{esc(k)}: {v}</li>" for k, v in sorted(skipped.items()))
        parts.append(f"<p class='note'>Skipped (not counted):</p><ul class='note'>{items}</ul>")
    if table.empty:
        parts.append("<p>No periods to show.</p>")
    for cam, rows in table.groupby("camera", sort=True):
        rows = rows.reset_index(drop=True)
        people = persons[persons["camera"] == cam]
        total = int(rows["persons"].sum())
        video = float(rows["video_h"].sum())
        down = float(rows["no_video_h"].sum())
        parts.append(f"<h2>{esc(str(cam))}</h2>")
        parts.append(
            f"<p>{total} people in {video:.1f} h of video; {down:.1f} h without video; "
            f"{int(rows['faces'].sum())} faces observed.</p>"
        )
        parts.append(f"<div class='chart'>{_chart(rows, people, by)}</div>")
        parts.append("<details><summary>Table</summary>")
        parts.append(_table(rows))
        parts.append("</details>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
