"""The per-run cache of the dashboard's single-run panels.

The single-run panels (distributions, length bias, pairs) join generations, scores and pairs on string ids. Over
Parquet that join costs ~1 s per query on a run with a million generations, so the first such panel for a run
materializes three narrow in-memory tables in the connection (integer ids, scores denormalized next to the lengths,
pairs with their gold/RM verdicts) and every later query reads them in milliseconds. The tables live in the
connection's private in-memory database, never in the store; a connection sees the store as it was when it built
them, so open a new connection (the app does, per store version) to see newer segments.
"""

from __future__ import annotations

import hashlib
import threading

_BUILD_LOCK = threading.Lock()


def run_cache(con, run_id: str) -> dict[str, str]:
    """Names of the run's cache tables in `con`, building them on first use:
    gen (gid, generation_id, prompt_id, iteration, purpose, source, n_chars, n_tokens, text),
    scored (gid, iteration, purpose, n_chars, n_tokens, scorer, value) — one row per generation × scorer,
    pair (every pairs column with chosen/rejected gid, section, prompt, each side's source (reward-model candidates:
    pi0, demo, perturbed:<kind>), lengths, gold and RM scores and verdicts)."""
    key = "cache_" + hashlib.sha1(run_id.encode()).hexdigest()[:16]  # never user text in an identifier
    names = {t: f"{key}_{t}" for t in ("gen", "scored", "pair")}
    done = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?"
    if con.execute(done, [names["pair"]]).fetchone()[0]:
        return names
    with _BUILD_LOCK:
        if con.execute(done, [names["pair"]]).fetchone()[0]:
            return names
        gen, scored, pair = names["gen"], names["scored"], names["pair"]
        for t in names.values():
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute(
            f"""CREATE TABLE {gen} AS
                SELECT (row_number() OVER ())::BIGINT AS gid, generation_id, prompt_id, iteration, purpose,
                       coalesce(source, '') AS source, n_chars, n_tokens, text
                FROM generations WHERE run_id = $run""",
            {"run": run_id},
        )
        con.execute(
            f"""CREATE TABLE {scored} AS
                SELECT g.gid, g.iteration, g.purpose, g.n_chars, g.n_tokens, s.scorer, s.value
                FROM scores s JOIN {gen} g ON g.generation_id = s.generation_id
                WHERE s.run_id = $run AND isfinite(s.value)
                ORDER BY s.scorer, g.purpose, g.iteration""",  # sorted: filters on these skip whole row groups
            {"run": run_id},
        )
        con.execute(
            f"""CREATE TABLE {pair} AS
                WITH v AS (SELECT gid, max(value) FILTER (WHERE scorer = 'gold') AS gold,
                                  max(value) FILTER (WHERE scorer = 'rm') AS rm
                           FROM {scored} GROUP BY gid)
                SELECT p.pair_id, p.iteration, p.rule, p.scorer, pr.section, pr.text AS prompt,
                       c.gid AS chosen_gid, r.gid AS rejected_gid,
                       c.source AS chosen_source, r.source AS rejected_source,
                       p.chosen_score, p.rejected_score, p.margin,
                       c.n_chars AS chosen_chars, r.n_chars AS rejected_chars, c.n_chars - r.n_chars AS length_diff,
                       vc.gold AS chosen_gold, vr.gold AS rejected_gold, vc.rm AS chosen_rm, vr.rm AS rejected_rm,
                       CASE WHEN vc.gold > vr.gold THEN 'agrees' WHEN vc.gold < vr.gold THEN 'disagrees'
                            WHEN vc.gold = vr.gold THEN 'tie' END AS gold_verdict,
                       CASE WHEN vc.rm > vr.rm THEN 'agrees' WHEN vc.rm < vr.rm THEN 'disagrees'
                            WHEN vc.rm = vr.rm THEN 'tie' END AS rm_verdict
                FROM pairs p
                LEFT JOIN prompts pr ON pr.run_id = $run AND pr.prompt_id = p.prompt_id
                LEFT JOIN {gen} c ON c.generation_id = p.chosen_id
                LEFT JOIN {gen} r ON r.generation_id = p.rejected_id
                LEFT JOIN v vc ON vc.gid = c.gid
                LEFT JOIN v vr ON vr.gid = r.gid
                WHERE p.run_id = $run""",
            {"run": run_id},
        )
    return names
