"""Rows a run's reward model trains on besides the annotator's labels: `reward.extra_pairs` and `reward.dataset`."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from workbench.config import is_hub_id
from workbench.data.filters import apply_filters, default_filters
from workbench.data.labels import human_pairs
from workbench.data.layout import toy_row
from workbench.data.sources import load_pairs
from workbench.records import DataFilter


def extra_reward_rows(sources: Sequence[str], root: str | Path, run_id: str = "") -> tuple[list[dict], list]:
    """Reward-model training rows from `reward.extra_pairs`, and `data_filter` rows saying what each file lost.

    "human" = every human label under `root`; "FORMAT:PATH" = a preference file of that format (formats.py), or
    "FORMAT:owner/name" a hub dataset, through the format's default filters (filters.py), each pair's conversation
    rendered as a toy prompt."""
    rows: list[dict] = []
    report: list = []
    for source in sources:
        if source == "human":
            rows += human_pairs(root)
            continue
        fmt, sep, path = source.partition(":")
        if not sep:
            raise ValueError(f"reward.extra_pairs: unknown source {source!r}")
        hub = is_hub_id(path)  # reward.dataset may name a hub dataset
        res = load_pairs(fmt, path, hub=hub)
        kept, dropped = apply_filters(res.pairs, default_filters(fmt))
        dropped.update(res.unpaired)
        rows += [toy_row(p.prompt_text, p.chosen.strip(), p.rejected.strip()) for p in kept]
        name = Path(path).name
        report += [DataFilter(run_id, "run", name, fmt, reason, n) for reason, n in sorted(dropped.items())]
        report.append(DataFilter(run_id, "run", name, fmt, "kept", len(kept)))
    return rows, report
