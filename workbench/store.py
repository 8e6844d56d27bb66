"""The run store: immutable Parquet segments per table, read through DuckDB views.

Layout under a root (default ./runs):

    <root>/<run_id>/store.json                                   the layout version ({"store_version": 2})
    <root>/<run_id>/config.yaml                                  the resolved config
    <root>/<run_id>/models/{tokenizer,init,sft,rm,policy_<t>}/   save_pretrained folders
    <root>/<run_id>/segments/<group>/<table>/<segment>.parquet    rows of one table
    <root>/<run_id>/staging/<group>/...                          a stage still running: invisible to readers

Why not one DuckDB database file: DuckDB lets one process hold a file read-write and every other process (the
dashboard, the labeler, `workbench sql`) then fails to open it, even read-only ("Could not set lock on file").
Instead every write is a Parquet file renamed into place, and readers open an in-memory DuckDB whose views read
the files by glob at query time, so any number of processes read while a run writes.

A pipeline stage writes inside `transaction(group)`: its files go to staging/<group>/ and become visible in one
directory rename when the stage finishes, together with its row in the `stages` table. A stage killed halfway
therefore leaves no visible rows, and running it again replaces its group instead of adding duplicates. Writes
outside a transaction (a label from the viewer) are their own group, visible as soon as the file is renamed.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.records import TABLES, arrow_schema, duckdb_columns

STORE_VERSION = 2
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


class StoreError(RuntimeError):
    """A run folder this version cannot read (newer layout, corrupted files); the message names the path."""


class RunStore:
    """Writes one run's tables. Single writer per run (labels aside: each is its own group); readers use `connect`."""

    def __init__(self, root: str | Path, run_id: str):
        self.root = Path(root)
        self.run_id = run_id
        self.dir = self.root / run_id
        self._group: str | None = None
        self.writes_enabled = True  # False on ranks > 0 of a multi-process launch: writes do nothing

    def model_dir(self, name: str) -> Path:
        return self.dir / "models" / name

    def policy_dir(self, t: int) -> Path:
        """π_t's folder: π0 is the SFT model (models/sft), π_t for t ≥ 1 is models/policy_t."""
        return self.model_dir("sft" if t == 0 else f"policy_{t}")

    def _ensure_version(self) -> None:
        marker = self.dir / "store.json"
        if marker.exists():
            check_version(self.dir)
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".store.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"store_version": STORE_VERSION}))
        os.replace(tmp, marker)

    @contextmanager
    def transaction(self, group: str):
        """Everything written inside becomes visible at once when the block ends without an exception."""
        _check_name(group)
        if self._group is not None:
            raise RuntimeError(f"transaction {group!r} inside transaction {self._group!r}")
        self._ensure_version()
        staging = self.dir / "staging" / group
        shutil.rmtree(staging, ignore_errors=True)  # what a killed attempt left
        staging.mkdir(parents=True)
        self._group = group
        try:
            yield
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            self._group = None
        final = self.dir / "segments" / group
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # the stage ran before: swap the old group out first, so no reader sees both
            trash = self.dir / "staging" / f".old-{group}-{uuid.uuid4().hex[:8]}"
            os.replace(final, trash)
            os.replace(staging, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, final)

    def write(self, rows: list, segment: str) -> Path | None:
        """Write `rows` (records of one table) as `segment`; atomic: whole or not at all."""
        return self._write(rows, segment, publish=False)

    def publish(self, rows: list, segment: str) -> Path | None:
        """Inside a transaction, write `rows` visible at once, into the group the transaction will commit: readers
        (the viewer) see them while the stage runs; the commit replaces them with the group's staged rows, so the
        stage must write the same rows again if they are to stay. What the loop shows a person while it waits for
        their labels (loop.refresh_source=human); a stage killed meanwhile leaves them visible until its rerun."""
        if self._group is None:
            raise RuntimeError("publish writes into a running stage's group: call it inside transaction()")
        return self._write(rows, segment, publish=True)

    def _write(self, rows: list, segment: str, publish: bool) -> Path | None:
        if not rows or not self.writes_enabled:
            return None
        _check_name(segment)
        cls = type(rows[0])
        if any(type(r) is not cls for r in rows):
            raise TypeError(f"one segment holds one table: got {sorted({type(r).__name__ for r in rows})}")
        if any(r.run_id != self.run_id for r in rows):
            raise ValueError(f"rows for another run in a segment of {self.run_id}")
        schema = arrow_schema(cls)
        columns = {f.name: [getattr(r, f.name) for r in rows] for f in dataclasses.fields(cls)}
        table = pa.Table.from_pydict(columns, schema=schema)
        if self._group is None:
            self._ensure_version()
            folder = self.dir / "segments" / segment / cls.TABLE
        elif publish:
            folder = self.dir / "segments" / self._group / cls.TABLE
        else:
            folder = self.dir / "staging" / self._group / cls.TABLE
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{segment}.parquet"
        # a second write would silently replace the first
        if self._group is not None and not publish and final.exists():
            raise ValueError(f"stage {self._group!r} wrote {cls.TABLE} rows as segment {segment!r} twice: "
                             "write them together, or under another segment name")
        tmp = folder / f".{segment}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp"
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)  # a failed write (disk full) leaves nothing behind
        return final

    def copy_group(self, src: "RunStore", group: str) -> None:
        """Copy another run's committed group into this run, run_id rewritten (how a forked run shares a prefix)."""
        files = sorted((src.dir / "segments" / group).glob("*/*.parquet"))
        if not files:
            raise StoreError(f"{src.dir}: has no committed group {group!r} to copy")
        with self.transaction(group):
            for f in files:
                table = pq.read_table(f)
                i = table.schema.get_field_index("run_id")
                table = table.set_column(i, "run_id", pa.array([self.run_id] * len(table), pa.string()))
                dest = self.dir / "staging" / group / f.parent.name
                dest.mkdir(parents=True, exist_ok=True)
                pq.write_table(table, dest / f.name)

    def segment_files(self, table: str) -> list[Path]:
        """The visible Parquet files of one of this run's tables."""
        return sorted(self.dir.glob(f"segments/*/{table}/*.parquet"))


def _check_name(name: str) -> None:
    if not _SEGMENT.match(name) or name.startswith("."):
        raise ValueError(f"segment name {name!r} may hold only letters, digits, '.', '_' and '-'")


def check_version(run_dir: Path) -> None:
    marker = run_dir / "store.json"
    try:
        version = json.loads(marker.read_text())["store_version"]
    except (OSError, ValueError, KeyError, TypeError):
        raise StoreError(f"{marker}: not a readable store marker (expected {{\"store_version\": N}})") from None
    if not isinstance(version, int) or version > STORE_VERSION:
        raise StoreError(
            f"{run_dir}: written by a newer workbench (store version {version}, this one reads up to "
            f"{STORE_VERSION}); upgrade the package to read it"
        )


def connect(root: str | Path, run_id: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table over every run under `root` (or one run).

    The views expand their file globs at query time, so a long-lived connection sees segments written later.
    A table with no segment yet is an empty view with the right columns; a column added to a record after a store
    was written reads as NULL there.
    """
    root = Path(root)
    run_glob = run_id if run_id else "*"
    for marker in root.glob(f"{run_glob}/store.json"):
        check_version(marker.parent)
    con = duckdb.connect(":memory:")
    # Joins run in the order a query writes them. With several runs under one root, DuckDB's join-order optimizer
    # underestimates a join on run_id alone (every table has it, and `x.run_id = ?` makes them all equal), so it
    # joined e.g. both sides of a pair's generations on run_id first: every row of a run with every other, spilled
    # to ./.tmp until the disk was full. Our queries write the id joins first; at the store's size order matters
    # little otherwise (tests/test_store.py has the query that blew up).
    con.execute("SET disabled_optimizers = 'join_order'")
    for name, cls in TABLES.items():
        pattern = root / run_glob / "segments" / "*" / name / "*.parquet"
        if any(root.glob(str(pattern.relative_to(root)))):
            src = f"read_parquet('{_sql_str(pattern)}', union_by_name = true)"
            # a column added to the record after these segments were written reads as NULL (records.py)
            have = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
            added = "".join(f", CAST(NULL AS {tp}) AS {col}" for col, tp in duckdb_columns(cls) if col not in have)
            con.execute(f"CREATE VIEW {name} AS SELECT *{added} FROM {src}")
        else:
            cols = ", ".join(f"CAST(NULL AS {tp}) AS {col}" for col, tp in duckdb_columns(cls))
            con.execute(f"CREATE VIEW {name} AS SELECT {cols} WHERE false")
    return con


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


READ_ONLY_PREFIXES = ("select", "with", "from", "describe", "show", "summarize", "pivot", "unpivot", "explain",
                      "values")


def query(root: str | Path, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
    """Run one read-only statement over the store; returns (column names, rows)."""
    head = sql.lstrip().split(None, 1)[0].lower() if sql.strip() else ""
    if head not in READ_ONLY_PREFIXES or ";" in sql.strip().rstrip(";"):
        raise ValueError("only one read-only statement (SELECT, WITH, DESCRIBE, ...) is allowed, got: "
                         f"{sql.strip()[:60]!r}")
    con = connect(root)
    try:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return names, cur.fetchall()
    finally:
        con.close()


RUNS_STATUS_SQL = """
SELECT r.run_id, r.name, r.created_at,
       CASE WHEN bool_or(s.stage = 'done') THEN 'finished' ELSE 'incomplete' END AS status,
       coalesce(max(s.iteration) FILTER (WHERE s.stage = 'iteration'), 0) AS iterations_done,
       r.iterations AS iterations_planned,
       (SELECT m.value FROM metrics m WHERE m.run_id = r.run_id AND m.name = 'gold_win_rate'
        ORDER BY m.iteration DESC LIMIT 1) AS gold_win_rate,
       (SELECT m.value FROM metrics m WHERE m.run_id = r.run_id AND m.name = 'gold_utility'
        ORDER BY m.iteration DESC LIMIT 1) AS gold_utility
FROM runs r LEFT JOIN stages s USING (run_id)
GROUP BY r.run_id, r.name, r.created_at, r.iterations
ORDER BY r.created_at
"""


def store_version(root: str | Path, run_id: str = "*", tables: tuple[str, ...] = ("*",)) -> tuple[int, int, int]:
    """(segments, newest mtime in ns, total bytes) of every Parquet segment under `root` (of one run's `tables`
    when given): changes exactly when a segment is written or replaced, so the dashboard and the viewer cache query
    results on it and the dashboard's auto-refresh polls it cheaply."""
    count = newest = size = 0
    root = Path(root)
    if not root.is_dir():
        return (0, 0, 0)
    run = run_id if run_id == "*" else glob.escape(run_id)  # a run id may hold [ ] from its config's name
    segments = (seg for table in tables for seg in root.glob(f"{run}/segments/*/{table}/*.parquet"))
    for seg in segments:  # the layout above: <run>/segments/<group>/<table>/
        try:
            st = seg.stat()
        except FileNotFoundError:  # replaced between the listing and now (a stage run again): the next poll sees it
            continue
        count += 1
        newest = max(newest, st.st_mtime_ns)
        size += st.st_size
    return (count, newest, size)
