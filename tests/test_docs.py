"""The README and docs/: every relative link and anchor resolves, the README stays a front door, and CI runs the
README's own install and test commands."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation but hyphens dropped, spaces to hyphens."""
    heading = re.sub(r"<[^>]+>", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out, fence = set(), False
    for line in text.splitlines():
        if re.match(r"^\s*(```|~~~)", line):
            fence = not fence
            continue
        if fence:
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m.group(2))
            seen[s] = seen.get(s, -1) + 1
            out.add(s if seen[s] == 0 else f"{s}-{seen[s]}")
        out.update(re.findall(r'<a\s+(?:name|id)="([^"]+)"', line))
    return out


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every markdown link and image outside code blocks and code spans."""
    text = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "``", text)
    return [(text.count("\n", 0, m.start()) + 1, m.group(1))
            for m in re.finditer(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)]


def broken_links(pages: list[Path]) -> list[str]:
    out = []
    for page in pages:
        for line, target in links(page.read_text()):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, mailto:, ...: not checked (no network)
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            where = f"{page.name}:{line}: {target}"
            if not dest.exists():
                out.append(f"{where}: no file {dest}")
            elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest.read_text())):
                out.append(f"{where}: no anchor #{anchor} in {dest.name}")
    return out


def test_the_checker_finds_a_broken_file_and_a_broken_anchor(tmp_path):
    (tmp_path / "a.md").write_text("# Title here\n\n[ok](b.md#second-part) [gone](c.md) [bad](b.md#nope)\n"
                                   "`[code](x.md)` [self](#title-here)\n")
    (tmp_path / "b.md").write_text("# First\n## Second part\n```\n# not a heading\n```\n")
    assert broken_links([tmp_path / "a.md"]) == [
        f"a.md:3: c.md: no file {tmp_path / 'c.md'}", "a.md:3: b.md#nope: no anchor #nope in b.md"]


def test_every_relative_link_and_anchor_resolves():
    assert len(PAGES) >= 9
    assert broken_links(PAGES) == []


def test_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in PAGES[1:]:
        assert f"docs/{page.name}" in readme, f"the README does not link docs/{page.name}"


def _command_lines(text: str) -> list[str]:
    """The lines of a shell text with backslash continuations joined, blank lines dropped."""
    return [line.strip() for line in re.sub(r"\\\n\s*", " ", text).splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command():
    """`.ci/run` runs the README's test command (the second command of Quick start) as one whole line, so the two
    cannot drift apart: not a mention of pytest somewhere, the same install, extras and test (and lint) steps."""
    readme = (REPO / "README.md").read_text()
    section = readme.partition("\n## Quick start\n")[2].partition("\n## ")[0]
    block = re.search(r"^```bash\n(.*?)^```$", section, re.S | re.M)
    assert block, "no bash code block under the README's Quick start"
    commands = _command_lines(block.group(1))
    assert len(commands) == 2, commands  # install-and-run, then install-the-test-tools-and-test
    test_command = commands[1]
    assert "pytest" in test_command and 'pip install torch==2.13.0 -e ".[dev]"' in test_command, test_command
    ci = _command_lines((REPO / ".ci" / "run").read_text())
    assert test_command in ci, f"no line of .ci/run is the README's test command\n{test_command}"


def test_readme_headline_is_generated_from_the_experiment_tables():
    """The README's headline table is `python -m workbench.pipeline.headline`'s output from docs/experiments.md, as
    the paper experiment wrote its table there: not typed."""
    from workbench.pipeline.headline import BEGIN, END, headline

    readme = (REPO / "README.md").read_text()
    block = readme.partition(BEGIN + "\n")[2].partition("\n" + END)[0]
    assert block, "the README has no generated headline block"
    assert block == headline((REPO / "docs" / "experiments.md").read_text()), \
        "run python -m workbench.pipeline.headline"


def test_headline_picks_the_paper_tables_columns_and_spearman_line():
    from workbench.pipeline.headline import COLUMNS, headline

    cols = ["arm", "gold_win_rate", "lc_win_rate", "gold_utility", "rm_reward", "mean_length_chars", "kl_to_ref",
            "rm_length_corr_pi0"]
    page = "\n".join(["# Results", "### oracle (x)", "| arm | gold_win_rate |", "|---|---|", "| rm | 0.4 |",
                      "### paper (default preset, seeds 0, 1, 2)", "", "| " + " | ".join(cols) + " |",
                      "|---|" + "---|" * (len(cols) - 1), "| iterative | " + " | ".join(map(str, range(7))) + " |",
                      "", "Spearman correlation of lc_win_rate ...: seed 0 +0.90.", "## Next"])
    out = headline(page).splitlines()
    assert out[2] == "| arm | " + " | ".join(COLUMNS) + " |"
    assert out[4] == "| iterative | 0 | 1 | 2 | 4 | 5 | 6 |"  # rm_reward (3) left out
    assert out[-1].startswith("Spearman correlation") and "default preset, seeds 0, 1, 2" in out[0]
