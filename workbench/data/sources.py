"""Reading preference files and prompt sets: .jsonl / .json / .parquet files or hub ids, checked row by row.

    from workbench.data.sources import load_pairs, load_prompts
    result = load_pairs("shp", "shp.jsonl")          # LoadResult: pairs, rows read, invalid rows by reason

Every row goes through its format's parser (formats.py); a bad row raises DataError naming the file, the row
(1-based) and the field before anything is returned.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from workbench.config import is_hub_id
from workbench.data.formats import (
    FORMATS,
    SINGLE_RESPONSE,
    DataError,
    NoPair,
    PreferencePair,
    RowError,
    _messages,
    helpsteer_rows,
    pku_saferlhf,
    render_messages,
)


@dataclass
class LoadResult:
    format: str
    file: str
    rows: int  # rows read from the file
    pairs: list[PreferencePair]
    invalid: Counter = field(default_factory=Counter)  # "invalid:<field>" → rows skipped (skip_invalid only)
    unpaired: Counter = field(default_factory=Counter)  # reason → well-formed rows that make no pair (single_response)

    def dropped(self) -> Counter:
        """Rows lost before any pair was made, by reason: the unpaired and (with skip_invalid) the invalid ones."""
        return self.invalid + self.unpaired



def read_rows(path: str | Path, hub: bool = False, split: str = "train") -> Iterator[tuple[int, dict | Exception]]:
    """(1-based row number, row) from a .jsonl / .json (one object per line) / .parquet file, or a hub id.

    A line that is not a JSON object is yielded as the exception, so the caller reports it with its row number.
    """
    if hub:
        from datasets import load_dataset  # only when a user asks for a hub id (never in tests)

        for n, row in enumerate(load_dataset(str(path), split=split), start=1):
            yield n, row
        return
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for n, row in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield n, row
        return
    if path.suffix not in (".jsonl", ".json"):
        raise DataError(f"{path}: expected a .jsonl, .json (one object per line) or .parquet file")
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield n, ValueError(f"not UTF-8 text (bad byte at offset {e.start} of the line)")
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                yield n, ValueError(f"not valid JSON ({e.msg}; a truncated line?)")
                continue
            yield n, row if isinstance(row, dict) else ValueError("not a JSON object")


def load_pairs(
    fmt: str,
    path: str | Path,
    *,
    skip_invalid: bool = False,
    hub: bool = False,
    split: str = "train",
    pku_label: str = "safer_response_id",
) -> LoadResult:
    """Every pair in a file of format `fmt`. All rows are checked before anything is returned: a bad row raises
    DataError("<file>: row <n>: field '<field>': <what>") unless `skip_invalid`, which counts it instead."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    invalid: Counter = Counter()
    unpaired: Counter = Counter()
    out: list[PreferencePair] = []
    n_rows = 0

    def fail(n: int, field_name: str, message: str) -> None:
        if not skip_invalid:
            raise DataError(f"{path}: row {n}: field '{field_name}': {message}")
        invalid[f"invalid:{field_name}"] += 1

    def good_rows() -> Iterator[tuple[int, dict]]:
        nonlocal n_rows
        for n, row in read_rows(path, hub=hub, split=split):
            n_rows += 1
            if isinstance(row, Exception):
                if not skip_invalid:
                    raise DataError(f"{path}: row {n}: {row}")
                invalid["invalid:json"] += 1
                continue
            yield n, row

    if fmt == "helpsteer":
        checked = []
        for n, row in good_rows():
            try:
                list(helpsteer_rows([(n, row)]))  # checks the row's fields
                checked.append((n, row))
            except RowError as e:
                fail(n, e.field, e.message)
        for _, p in helpsteer_rows(checked):
            if p is None:
                unpaired[SINGLE_RESPONSE] += 1
            else:
                out.append(p)
    else:
        parser = FORMATS[fmt]
        if fmt == "pku-saferlhf":
            parser = lambda row: pku_saferlhf(row, pku_label)  # noqa: E731
        for n, row in good_rows():
            try:
                out.extend(list(parser(row)))
            except NoPair as e:
                unpaired[e.reason] += 1
            except RowError as e:
                fail(n, e.field, e.message)
    return LoadResult(fmt, str(path), n_rows, out, invalid, unpaired)


PROMPT_COLUMNS = ("context_messages", "messages", "prompt")  # RLHFlow's iterative-prompt sets use context_messages


def load_prompts(source: str, limit: int) -> list[str]:
    """The first `limit` rows of a prompt set (a .jsonl / .parquet file, or a hub id owner/name) as
    prompt texts: the first of PROMPT_COLUMNS a row has, a string or a conversation ending in a user turn (several
    turns rendered as "role: content" lines). Raises DataError naming the file, row and field, or saying how many
    rows there were when there are too few."""
    hub = is_hub_id(source)
    out: list[str] = []
    seen = 0
    for n, row in read_rows(source, hub=hub):
        if isinstance(row, Exception):
            raise DataError(f"{source}: row {n}: {row}")
        seen += 1
        name = next((c for c in PROMPT_COLUMNS if row.get(c) is not None), None)
        if name is None:
            raise DataError(f"{source}: row {n}: field '{PROMPT_COLUMNS[-1]}': missing (a prompt set needs one of "
                            f"{', '.join(PROMPT_COLUMNS)})")
        try:
            value = row[name]
            if isinstance(value, str):
                text = value
            else:
                messages = _messages(value, name)
                if messages[-1]["role"] != "user":
                    raise RowError(name, "the last turn must be the user's (the loop answers it)")
                text = render_messages(messages)
            if not text.strip():
                raise RowError(name, "empty")
        except RowError as e:
            raise DataError(f"{source}: row {n}: field '{e.field}': {e.message}") from None
        out.append(text)
        if len(out) == limit:
            return out
    raise DataError(f"{source}: needs {limit} prompts, has {seen}")


def write_pairs(pairs_: list[PreferencePair], out: str | Path) -> Path:
    """Write pairs in our `pairs` schema (jsonl), atomically: a reader sees the whole file or none of it."""
    import os

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for p in pairs_:
            f.write(json.dumps(p.to_json(), ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    return out


def loop_prompt_texts(cfg) -> dict[int, list[str]]:
    """{t: the loop's prompts of iteration t} from `world.prompt_dataset`: with "{t}" in it, the first n_iter rows of
    the set it names for each t (RLHFlow's iter1-20K, iter2-20K, ...); without, rows (t − 1)·n_iter + 1 .. t·n_iter
    of the one set, so no prompt repeats across iterations."""
    source, n, iterations = cfg.world.prompt_dataset, cfg.world.n_iter, range(1, cfg.loop.iterations + 1)
    if "{t}" in source:
        return {t: load_prompts(source.replace("{t}", str(t)), n) for t in iterations}
    every = load_prompts(source, n * len(iterations))
    return {t: every[(t - 1) * n : t * n] for t in iterations}
