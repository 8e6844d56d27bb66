"""The run store: immutable Parquet segments per table, read through DuckDB views.

Layout under a root (default ./runs):

    <root>/<run_id>/config.yaml                      the resolved config
    <root>/<run_id>/models/{tokenizer,init,sft,rm,policy_<t>}/   save_pretrained folders
    <root>/<run_id>/tables/<table>/<segment>.parquet  rows of one table written by one stage

Why not one DuckDB database file: DuckDB lets one process hold a file read-write and every other process (the
dashboard, the labeler, `workbench sql`) then fails to open it, even read-only ("Could not set lock on file").
Segments are written to a hidden temporary name and renamed into place, so a reader sees a segment whole or not
at all, and any number of processes read while a run writes. A segment's name is chosen by its stage and
iteration, so a stage that is run again replaces its segment instead of adding duplicate rows.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.records import TABLES, arrow_schema, duckdb_columns

_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


class RunStore:
    """Writes one run's tables. Single writer per run; readers use `connect`."""

    def __init__(self, root: str | Path, run_id: str):
        self.root = Path(root)
        self.run_id = run_id
        self.dir = self.root / run_id

    def model_dir(self, name: str) -> Path:
        return self.dir / "models" / name

    def write(self, rows: list, segment: str) -> Path | None:
        """Write `rows` (records of one table) as the segment `segment`; atomic: whole or not at all."""
        if not rows:
            return None
        if not _SEGMENT.match(segment):
            raise ValueError(f"segment name {segment!r} may hold only letters, digits, '.', '_' and '-'")
        cls = type(rows[0])
        if any(type(r) is not cls for r in rows):
            raise TypeError(f"one segment holds one table: got {sorted({type(r).__name__ for r in rows})}")
        if any(r.run_id != self.run_id for r in rows):
            raise ValueError(f"rows for another run in a segment of {self.run_id}")
        schema = arrow_schema(cls)
        columns = {f.name: [getattr(r, f.name) for r in rows] for f in dataclasses.fields(cls)}
        table = pa.Table.from_pydict(columns, schema=schema)
        folder = self.dir / "tables" / cls.TABLE
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{segment}.parquet"
        tmp = folder / f".{segment}.{os.getpid()}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        return final


def connect(root: str | Path, run_id: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table over every run under `root` (or one run).

    The views expand their file globs at query time, so a long-lived connection sees segments written later.
    A table with no segment yet is an empty view with the right columns.
    """
    root = Path(root)
    con = duckdb.connect(":memory:")
    run_glob = run_id if run_id else "*"
    for name, cls in TABLES.items():
        pattern = root / run_glob / "tables" / name / "*.parquet"
        if any(root.glob(str(pattern.relative_to(root)))):
            src = f"read_parquet('{_sql_str(pattern)}', union_by_name = true)"
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM {src}")
        else:
            cols = ", ".join(f"CAST(NULL AS {tp}) AS {col}" for col, tp in duckdb_columns(cls))
            con.execute(f"CREATE VIEW {name} AS SELECT {cols} WHERE false")
    return con


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


READ_ONLY_PREFIXES = ("select", "with", "from", "describe", "show", "summarize", "pivot", "unpivot", "explain", "values")


def query(root: str | Path, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
    """Run one read-only statement over the store; returns (column names, rows)."""
    head = sql.lstrip().split(None, 1)[0].lower() if sql.strip() else ""
    if head not in READ_ONLY_PREFIXES or ";" in sql.strip().rstrip(";"):
        raise ValueError(f"only one read-only statement (SELECT, WITH, DESCRIBE, ...) is allowed, got: {sql.strip()[:60]!r}")
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
