import subprocess
import sys
import textwrap
import time

import pytest

from workbench.records import Metric, Score
from workbench.store import RunStore, connect, query


def test_write_and_read_back(tmp_path):
    store = RunStore(tmp_path, "run-a")
    store.write([Metric("run-a", 1, "gold_win_rate", 0.6), Metric("run-a", 2, "gold_win_rate", 0.7)], "eval")
    RunStore(tmp_path, "run-b").write([Metric("run-b", 1, "gold_win_rate", 0.4)], "eval")
    names, rows = query(tmp_path, "select run_id, iteration, value from metrics order by run_id, iteration")
    assert names == ["run_id", "iteration", "value"]
    assert rows == [("run-a", 1, 0.6), ("run-a", 2, 0.7), ("run-b", 1, 0.4)]
    con = connect(tmp_path, run_id="run-b")
    assert con.execute("select count(*) from metrics").fetchone() == (1,)


def test_empty_tables_have_their_columns(tmp_path):
    names, rows = query(tmp_path, "select * from pairs")
    assert rows == []
    assert names[:3] == ["run_id", "pair_id", "iteration"]


def test_rewriting_a_segment_replaces_it(tmp_path):
    store = RunStore(tmp_path, "r")
    store.write([Score("r", "g1", "rm", 1.0)], "iter-001")
    store.write([Score("r", "g1", "rm", 2.0)], "iter-001")
    assert query(tmp_path, "select value from scores")[1] == [(2.0,)]
    assert not list((tmp_path / "r").rglob(".*.tmp"))  # no temporary files left


def test_a_stage_cannot_write_one_table_twice_under_one_segment_name(tmp_path):
    """Inside a stage the second write would replace the first: the store refuses, and the stage commits nothing."""
    store = RunStore(tmp_path, "r")
    with pytest.raises(ValueError, match="wrote scores rows as segment 'rm-train' twice"):
        with store.transaction("reward-000"):
            store.write([Score("r", "g1", "rm", 1.0)], "rm-train")
            store.write([Metric("r", 0, "x", 1.0)], "rm-train")  # another table under the same name is fine
            store.write([Score("r", "g2", "rm", 2.0)], "rm-train")
    assert query(tmp_path, "select count(*) from scores")[1] == [(0,)]


def test_published_rows_are_visible_during_the_stage_and_replaced_by_its_commit(tmp_path):
    store = RunStore(tmp_path, "r")
    with pytest.raises(RuntimeError, match="inside transaction"):
        store.publish([Score("r", "g1", "rm", 1.0)], "queue")
    with store.transaction("rollout-001"):
        store.publish([Score("r", "g1", "rm", 1.0)], "queue")
        store.write([Score("r", "g1", "rm", 5.0), Score("r", "g2", "rm", 6.0)], "rollout")
        assert query(tmp_path, "select generation_id, value from scores")[1] == [("g1", 1.0)]  # staged: unseen
    assert query(tmp_path, "select generation_id, value from scores order by 1")[1] == [("g1", 5.0), ("g2", 6.0)]
    # a stage that fails leaves what it published, and nothing it staged
    with pytest.raises(KeyError):
        with store.transaction("rollout-002"):
            store.publish([Score("r", "g3", "rm", 3.0)], "queue")
            store.write([Score("r", "g4", "rm", 4.0)], "rollout")
            raise KeyError("killed")
    assert query(tmp_path, "select generation_id from scores order by 1")[1] == [("g1",), ("g2",), ("g3",)]


def test_rejects_mixed_or_foreign_rows(tmp_path):
    store = RunStore(tmp_path, "r")
    with pytest.raises(TypeError):
        store.write([Score("r", "g", "rm", 1.0), Metric("r", 0, "x", 1.0)], "s")
    with pytest.raises(ValueError, match="another run"):
        store.write([Score("other", "g", "rm", 1.0)], "s")
    with pytest.raises(ValueError, match="segment name"):
        store.write([Score("r", "g", "rm", 1.0)], "../escape")


@pytest.mark.parametrize("sql", ["delete from metrics", "copy metrics to 'x.csv'", "select 1; drop view metrics"])
def test_sql_is_read_only(tmp_path, sql):
    with pytest.raises(ValueError, match="read-only"):
        query(tmp_path, sql)


def test_a_second_process_reads_while_this_one_writes(tmp_path):
    """The DuckDB lock trap: a reader process must never fail while segments keep arriving."""
    reader = textwrap.dedent(
        f"""
        import time
        from workbench.store import query
        seen, deadline = set(), time.time() + 20
        print("ready", flush=True)
        while time.time() < deadline:
            n = query({str(tmp_path)!r}, "select count(*) from metrics")[1][0][0]
            seen.add(n)
            if n >= 200:
                break
        print(len(seen), max(seen))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", reader], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    store = RunStore(tmp_path, "r")
    for i in range(40):
        store.write([Metric("r", i, f"m{j}", float(j)) for j in range(5)], f"seg-{i:03d}")
        time.sleep(0.01)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    distinct, final = map(int, out.split())
    assert final == 200
    assert distinct >= 2  # it saw the store grow, not only the end state


def test_a_column_added_to_a_record_reads_as_null_in_older_segments(tmp_path):
    """`generations.source` came after stores were written: a store whose segments lack it still answers queries on
    it (NULL), alone and next to a run that has it."""
    import pyarrow.parquet as pq

    from workbench.records import Generation

    old = RunStore(tmp_path, "old")
    old.write([Generation("old", "g1", "p1", 0, "pref", 0, 1.0, 1.0, 8, "4.", 1, 2)], "reward-000")
    (segment,) = (tmp_path / "old").rglob("generations/*.parquet")
    table = pq.read_table(segment)
    pq.write_table(table.drop_columns(["source"]), segment)  # as an older workbench wrote it
    assert "source" not in pq.read_schema(segment).names
    assert query(tmp_path, "select generation_id, source from generations") == (["generation_id", "source"],
                                                                                  [("g1", None)])
    RunStore(tmp_path, "new").write([Generation("new", "g2", "p1", 0, "pref", 0, 0.0, 1.0, 0, "5.", 1, 2,
                                                "perturbed:wrong_number")], "reward-000")
    rows = query(tmp_path, "select run_id, source from generations order by run_id")[1]
    assert rows == [("new", "perturbed:wrong_number"), ("old", None)]



def test_a_join_on_run_and_id_stays_a_join_on_a_root_of_several_runs(tmp_path):
    """DuckDB's join-order optimizer, seeing `run_id` equal across all four tables, joined the two `generations`
    sides and `prompts` on run_id alone (every row of a run with every other) and spilled to disk until it was full.
    `connect` keeps the joins in the order written. The store below has the shape of two quick runs (ids, segment
    sizes) on which the loop's own pairs query blew up; DuckDB's memory and temp space are capped so a cross
    product fails in seconds instead of filling the disk."""
    from workbench.records import Generation, Pair, Prompt

    splits = [("sft", 720), ("pref", 480), ("iter", 192), ("eval", 48)]
    for run, evals in (("run-a", 2), ("run-b", 1)):
        store = RunStore(tmp_path, run)
        store.write([Prompt(run, f"{s}-{i:06d}", s, int(s == "iter"), "chat", "f", f"{s} question {i}", "{}", "")
                     for s, n in splits for i in range(n)], "world")

        def gens(seg, purpose, split, n_prompts, k, it, store=store, run=run):
            store.write([Generation(run, f"{seg}-{split}-{i:06d}-{j}", f"{split}-{i:06d}", it, purpose, j, 1.0, 1.0, 8,
                                    f"answer {seg} {i} {j}", 4, 20) for i in range(n_prompts) for j in range(k)], seg)

        for t in range(evals):
            gens(f"eval{t}", "eval", "eval", 72, 1, t)
        gens("pref", "pref", "pref", 480, 3, 0)
        store.write([Pair(run, f"rm{k}-{i:06d}", 0, f"pref-{i:06d}", f"pref-pref-{i:06d}-0", f"pref-pref-{i:06d}-{k}",
                          1.0, 0.0, 1.0, "annotator", "annotator") for k, n in ((1, 480), (2, 220)) for i in range(n)],
                    "rm-train")
        gens("rollout1", "rollout", "iter", 48, 4, 1)
        store.write([Pair(run, f"dpo1-{i:06d}", 1, f"iter-{i:06d}", f"rollout1-iter-{i:06d}-0",
                          f"rollout1-iter-{i:06d}-3", 1.0, 0.0, 1.0, "best_worst", "rm") for i in range(48)], "dpo-001")
    con = connect(tmp_path)
    con.execute("SET memory_limit = '256MB'")
    con.execute("SET max_temp_directory_size = '64MB'")
    rows = con.execute(
        """select p.text, c.text, r.text from pairs x
           join prompts p on p.run_id = x.run_id and p.prompt_id = x.prompt_id
           join generations c on c.run_id = x.run_id and c.generation_id = x.chosen_id
           join generations r on r.run_id = x.run_id and r.generation_id = x.rejected_id
           where x.run_id = ? and x.iteration = ? and x.rule = 'best_worst' order by x.pair_id""",
        ["run-b", 1],
    ).fetchall()
    assert len(rows) == 48 and rows[0] == ("iter question 0", "answer rollout1 0 0", "answer rollout1 0 3")
