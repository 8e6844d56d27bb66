"""The README's headline table, generated from docs/experiments.md, never typed:
`python -m workbench.pipeline.headline` rewrites the part of README.md between its markers from the tables the
experiments wrote.

docs/experiments.md holds each experiment's table as `workbench experiment` wrote it to
`<root>/experiments/<id>.md`, under a `### NAME (...)` heading; the headline takes the `paper` table's arms with
the columns that tell the paper's story, and its Spearman line.
"""

from __future__ import annotations

from itertools import dropwhile, takewhile

from workbench.config import SOURCE_DIR, between_markers

README = SOURCE_DIR / "README.md"
EXPERIMENTS_PAGE = SOURCE_DIR / "docs" / "experiments.md"
BEGIN = "<!-- headline:begin: generated from docs/experiments.md by python -m workbench.pipeline.headline -->"
END = "<!-- headline:end -->"
COLUMNS = ("gold_win_rate", "lc_win_rate", "gold_utility", "mean_length_chars", "kl_to_ref", "rm_length_corr_pi0")


def experiment_section(page: str, name: str) -> tuple[str, list[str]]:
    """(heading, lines) of the `### NAME (...)` section of the experiments page: its table and what follows it up
    to the next heading."""
    lines = page.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"### {name} (")), None)
    if start is None:
        raise ValueError(f"{EXPERIMENTS_PAGE.name} has no '### {name} (...)' section")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start][4:], lines[start + 1:end]


def headline(page: str) -> str:
    """The README's block: the paper experiment's arms in COLUMNS, and its Spearman line."""
    heading, body = experiment_section(page, "paper")
    # the first table only: the one the command wrote
    table = list(takewhile(lambda line: line.startswith("|"), dropwhile(lambda line: not line.startswith("|"), body)))
    if len(table) < 3:
        raise ValueError(f"the paper section of {EXPERIMENTS_PAGE.name} has no table")
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in table]
    head = cells[0]
    missing = [c for c in COLUMNS if c not in head]
    if missing:
        raise ValueError(f"the paper table of {EXPERIMENTS_PAGE.name} lacks the columns {missing}")
    keep = [0] + [head.index(c) for c in COLUMNS]
    setting = heading.partition("(")[2].rstrip(")")  # "default preset, seeds 0, 1, 2"
    out = [f"`workbench experiment paper` ({setting}): each arm's last iteration, mean ± sd over seeds "
           "([all tables](docs/experiments.md)).", "",
           "| " + " | ".join(head[i] for i in keep) + " |", "|---|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(row[i] for i in keep) + " |" for row in cells[2:]]
    spearman = [line for line in body if line.startswith("Spearman correlation")]
    return "\n".join(out + ([""] + spearman if spearman else []))


def readme_with_headline(readme: str, page: str) -> str:
    return between_markers(readme, BEGIN, END, headline(page), str(README))


if __name__ == "__main__":
    README.write_text(readme_with_headline(README.read_text(), EXPERIMENTS_PAGE.read_text()))
    print(f"wrote the headline table of {README} from {EXPERIMENTS_PAGE}")
