"""Public preference datasets, read into one pair schema.

    from workbench.data.sources import load_pairs
    result = load_pairs("shp", "shp.jsonl")          # or a hub id: load_pairs("shp", "stanfordnlp/SHP", hub=True)
    result.pairs, result.rows, result.dropped()       # filters.py then drops ties, empty turns, ...

Every format maps its rows to `PreferencePair`: the prompt as chat messages (every turn before the two responses),
the chosen and the rejected final assistant response, the source, optional absolute scores and margin, and a
section (RewardBench's chat / chat-hard / safety / reasoning where the data says, else None).

Formats, each `name (dataset): the columns read` (their exact public names; multi-turn where the data has it):

- hh-rlhf (Anthropic/hh-rlhf): chosen, rejected: whole dialogues "\\n\\nHuman: …\\n\\nAssistant: …" sharing all
  but the last turn
- shp (stanfordnlp/SHP): post_id, history, human_ref_A, human_ref_B, labels (1 = A preferred), score_A, score_B
- helpsteer (nvidia/HelpSteer): prompt, response, helpfulness, correctness, … (one response per row; pairs are made
  per prompt)
- pku-saferlhf (PKU-Alignment/PKU-SafeRLHF(-30K)): prompt, response_0, response_1, safer_response_id (or
  better_response_id), is_response_{0,1}_safe
- ultrafeedback (openbmb/UltraFeedback): instruction, completions[{response, model, fine-grained_score, overall_score,
  annotations}]
- ultrafeedback-binarized (HuggingFaceH4/ultrafeedback_binarized): prompt, prompt_id, chosen / rejected (messages),
  score_chosen, score_rejected
- ultrainteract (openbmb/UltraInteract_pair): id, parent_id, task, trajectory[{from, value}], chosen, rejected
- capybara (argilla/distilabel-capybara-dpo-7k-binarized): chosen / rejected (messages), rating_chosen,
  rating_rejected
- orca (argilla/distilabel-intel-orca-dpo-pairs, Intel/orca_dpo_pairs): system, input (question), chosen, rejected,
  status, rating
- reward-bench (allenai/reward-bench): id, subset, prompt, chosen, rejected (subset → section)
- pairs (ours): prompt (string or messages), chosen, rejected, optional source, section, score_chosen,
  score_rejected, margin, prompt_id

Reading files and hub sets is sources.py. A well-formed row that makes no pair (an UltraFeedback row with one
completion, a HelpSteer prompt with one response) is counted in `LoadResult.unpaired` under `single_response`, never
an error. A row that does not fit its format raises `DataError` naming the file, the row (1-based) and the field,
before anything is returned; with `skip_invalid=True` such rows are counted by reason instead.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from workbench.pair_formats import PAIR_FORMATS

Message = dict  # {"role": "system" | "user" | "assistant", "content": str}


@dataclass
class PreferencePair:
    """One preference: after `prompt` (the conversation so far), `chosen` is preferred to `rejected`."""

    prompt: list[Message]
    chosen: str
    rejected: str
    source: str
    section: str | None = None  # chat, chat-hard, safety, reasoning (RewardBench's sections) where known
    score_chosen: float | None = None  # absolute scores, where the dataset has them (upvotes, ratings, ...)
    score_rejected: float | None = None
    margin: float | None = None  # score_chosen − score_rejected unless the dataset defines its own
    prompt_id: str | None = None  # groups pairs of the same prompt / post (per-prompt caps)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def prompt_text(self) -> str:
        """The conversation as one string: the last user turn alone, or "role: content" lines for several turns."""
        return render_messages(self.prompt)


def render_messages(messages: list[Message]) -> str:
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)


class DataError(ValueError):
    """A row that does not fit its format. The message names the file, the row and the field."""


class NoPair(Exception):
    """Raised inside a row parser for a well-formed row that makes no pair (one completion): the loader counts the
    row under `reason` instead of stopping."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


SINGLE_RESPONSE = "single_response"  # a row (UltraFeedback) or prompt (HelpSteer) with fewer than two responses


class RowError(Exception):
    """Raised inside a row parser; the loader adds the file and row number."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------------- row checks


MAX_TEXT_CHARS = 1_000_000  # longer than any real response; a 10 MB field is a broken export, not a response


def _get(row: dict, name: str, types=str, allow_empty: bool = True):
    if name not in row or row[name] is None:
        raise RowError(name, "missing")
    value = row[name]
    if types is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RowError(name, f"expected a number, got {value!r}")
        if isinstance(value, float) and math.isnan(value):
            raise RowError(name, "is NaN")
        return float(value)
    if not isinstance(value, types):
        want = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise RowError(name, f"expected {want}, got {type(value).__name__}")
    if not allow_empty and isinstance(value, str) and not value.strip():
        raise RowError(name, "is empty")
    if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
        raise RowError(name, f"is {len(value):,} characters long; a text field may hold at most {MAX_TEXT_CHARS:,}")
    return value


def _opt_float(row: dict, name: str) -> float | None:
    return None if row.get(name) is None else _get(row, name, float)


def _messages(value, name: str) -> list[Message]:
    """A list of {"role", "content"} dicts (also ShareGPT's {"from", "value"} with human/gpt)."""
    if not isinstance(value, list) or not value:
        raise RowError(name, "expected a non-empty list of messages")
    roles = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise RowError(f"{name}[{i}]", "expected a message object")
        role, content = m.get("role", m.get("from")), m.get("content", m.get("value"))
        if role not in roles:
            raise RowError(f"{name}[{i}].role", f"unknown role {role!r}")
        if not isinstance(content, str):
            raise RowError(f"{name}[{i}].content", "missing or not a string")
        out.append({"role": roles[role], "content": content})
    return out


def _split_dialogue(messages: list[Message], name: str) -> tuple[list[Message], str]:
    if messages[-1]["role"] != "assistant":
        raise RowError(name, "the last message is not the assistant's response")
    if len(messages) < 2:
        raise RowError(name, "no prompt before the response")
    return messages[:-1], messages[-1]["content"]


def _shared_prompt(chosen: list[Message], rejected: list[Message]) -> tuple[list[Message], str, str]:
    """Chosen and rejected dialogues that share every turn but the final assistant response."""
    pc, c = _split_dialogue(chosen, "chosen")
    pr, r = _split_dialogue(rejected, "rejected")
    if pc != pr:
        raise RowError("rejected", "its conversation before the final response differs from chosen's")
    return pc, c, r


def _user(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


def _margin(c: float | None, r: float | None) -> float | None:
    return None if c is None or r is None else c - r


# ---------------------------------------------------------------------------------------------------- formats

HH_HUMAN, HH_ASSISTANT = "\n\nHuman: ", "\n\nAssistant: "


def parse_hh_dialogue(text: str, name: str) -> list[Message]:
    """HH-RLHF's "\\n\\nHuman: …\\n\\nAssistant: …" string → messages. An empty final turn stays empty."""
    if not text.startswith(HH_HUMAN.rstrip(" ")):
        raise RowError(name, 'does not start with "\\n\\nHuman:"')
    out: list[Message] = []
    rest = text
    while rest:
        if rest.startswith("\n\nHuman:"):
            role, rest = "user", rest[len("\n\nHuman:"):]
        elif rest.startswith("\n\nAssistant:"):
            role, rest = "assistant", rest[len("\n\nAssistant:"):]
        else:  # pragma: no cover - the search below always stops at a marker
            raise RowError(name, "cannot parse the dialogue")
        cut = min((i for i in (rest.find("\n\nHuman:"), rest.find("\n\nAssistant:")) if i >= 0), default=len(rest))
        out.append({"role": role, "content": rest[:cut].strip()})
        rest = rest[cut:]
    return out


def hh_rlhf(row: dict) -> Iterator[PreferencePair]:
    chosen = parse_hh_dialogue(_get(row, "chosen"), "chosen")
    rejected = parse_hh_dialogue(_get(row, "rejected"), "rejected")
    prompt, c, r = _shared_prompt(chosen, rejected)
    yield PreferencePair(prompt, c, r, "hh-rlhf")


def shp(row: dict) -> Iterator[PreferencePair]:
    post = _get(row, "post_id")
    history = _get(row, "history")
    a, b = _get(row, "human_ref_A"), _get(row, "human_ref_B")
    label = row.get("labels")
    if label not in (0, 1) or isinstance(label, bool):
        raise RowError("labels", f"expected 0 or 1, got {label!r}")
    sa, sb = _get(row, "score_A", float), _get(row, "score_B", float)
    c, r, sc, sr = (a, b, sa, sb) if label == 1 else (b, a, sb, sa)
    yield PreferencePair(_user(history), c, r, "shp", "chat", sc, sr, _margin(sc, sr), post)


HELPSTEER_ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
HELPSTEER_SCORE = ("helpfulness", "correctness")  # RLHFlow's recipe ranks by the mean of these two


def helpsteer_rows(rows: Iterable[tuple[int, dict]]) -> Iterator[tuple[int, PreferencePair | None]]:
    """HelpSteer has one response per row; pairs are every two responses to the same prompt (ties kept here,
    with equal scores, so the tie filter counts them). A prompt with a single response yields (row, None)."""
    groups: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    for n, row in rows:
        prompt = _get(row, "prompt")
        response = _get(row, "response")
        for a in HELPSTEER_ATTRIBUTES:
            if a in row:
                _get(row, a, float)
        score = sum(_get(row, a, float) for a in HELPSTEER_SCORE) / len(HELPSTEER_SCORE)
        groups[prompt].append((n, response, score))
    for prompt, items in groups.items():
        if len(items) == 1:
            yield items[0][0], None
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                (n, ra, sa), (_, rb, sb) = items[i], items[j]
                c, r, sc, sr = (ra, rb, sa, sb) if sa >= sb else (rb, ra, sb, sa)
                yield n, PreferencePair(_user(prompt), c, r, "helpsteer", None, sc, sr, sc - sr, f"helpsteer-{n}")


def pku_saferlhf(row: dict, label: str = "safer_response_id") -> Iterator[PreferencePair]:
    prompt = _get(row, "prompt")
    r0, r1 = _get(row, "response_0"), _get(row, "response_1")
    which = row.get(label)
    if which not in (0, 1) or isinstance(which, bool):
        raise RowError(label, f"expected 0 or 1, got {which!r}")
    c, r = (r0, r1) if which == 0 else (r1, r0)
    yield PreferencePair(_user(prompt), c, r, "pku-saferlhf", "safety")


def ultrafeedback(row: dict) -> Iterator[PreferencePair]:
    """Every two completions of an instruction, ranked by `fine-grained_score` (the mean of the four aspect
    ratings), as RLHFlow's mixture does; equal scores are kept as ties for the tie filter."""
    instruction = _get(row, "instruction")
    completions = _get(row, "completions", list)
    scored = []
    for i, comp in enumerate(completions):
        if not isinstance(comp, dict):
            raise RowError(f"completions[{i}]", "expected an object")
        text = comp.get("response")
        if not isinstance(text, str):
            raise RowError(f"completions[{i}].response", "missing or not a string")
        score = comp.get("fine-grained_score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or math.isnan(score):
            raise RowError(f"completions[{i}].fine-grained_score", f"expected a number, got {score!r}")
        scored.append((text, float(score)))
    if len(scored) < 2:  # well-formed, but nothing to compare: counted, not an error
        raise NoPair(SINGLE_RESPONSE)
    for i in range(len(scored)):
        for j in range(i + 1, len(scored)):
            (ta, sa), (tb, sb) = scored[i], scored[j]
            c, r, sc, sr = (ta, tb, sa, sb) if sa >= sb else (tb, ta, sb, sa)
            yield PreferencePair(_user(instruction), c, r, "ultrafeedback", None, sc, sr, sc - sr, instruction)


def ultrafeedback_binarized(row: dict) -> Iterator[PreferencePair]:
    prompt, c, r = _shared_prompt(_messages(_get(row, "chosen", list), "chosen"),
                                  _messages(_get(row, "rejected", list), "rejected"))
    sc, sr = _opt_float(row, "score_chosen"), _opt_float(row, "score_rejected")
    yield PreferencePair(prompt, c, r, "ultrafeedback-binarized", None, sc, sr, _margin(sc, sr), row.get("prompt_id"))


def ultrainteract(row: dict) -> Iterator[PreferencePair]:
    trajectory = _messages(_get(row, "trajectory", list), "trajectory")
    if trajectory[-1]["role"] != "user":
        raise RowError("trajectory", "the last turn must be the user's (the pair answers it)")
    c, r = _get(row, "chosen"), _get(row, "rejected")
    yield PreferencePair(trajectory, c, r, "ultrainteract", "reasoning", prompt_id=row.get("parent_id"))


def capybara(row: dict) -> Iterator[PreferencePair]:
    prompt, c, r = _shared_prompt(_messages(_get(row, "chosen", list), "chosen"),
                                  _messages(_get(row, "rejected", list), "rejected"))
    sc, sr = _opt_float(row, "rating_chosen"), _opt_float(row, "rating_rejected")
    yield PreferencePair(prompt, c, r, "capybara", None, sc, sr, _margin(sc, sr))


def orca(row: dict) -> Iterator[PreferencePair]:
    """Argilla's relabelled Orca pairs (`input`, `status` tie/unchanged/swapped, `rating` [chosen, rejected]
    after relabelling); Intel's original (`question`) has no scores."""
    question = row.get("input", row.get("question"))
    if not isinstance(question, str):
        raise RowError("input", "missing or not a string (Intel's file calls it question)")
    system = row.get("system")
    has_system = isinstance(system, str) and system.strip()
    prompt = ([{"role": "system", "content": system}] if has_system else []) + _user(question)
    c, r = _get(row, "chosen"), _get(row, "rejected")
    sc = sr = None
    if row.get("status") == "tie":
        sc = sr = 0.0  # argilla's judge rated both the same: the tie filter drops it
    elif row.get("chosen_score") is not None:
        sc = _get(row, "chosen_score", float)
        rating = row.get("rating")
        if isinstance(rating, list) and len(rating) == 2 and all(isinstance(x, (int, float)) for x in rating):
            sr = float(min(rating)) if sc == max(rating) else float(max(rating))
    yield PreferencePair(prompt, c, r, "orca", None, sc, sr, _margin(sc, sr))


REWARD_BENCH_SECTIONS = {
    "chat": ("alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy", "mt-bench-med"),
    "chat-hard": (
        "mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor", "llmbar-adver-GPTInst",
        "llmbar-adver-GPTOut", "llmbar-adver-manual",
    ),
    "safety": ("refusals-dangerous", "refusals-offensive", "xstest-should-refuse", "xstest-should-respond",
               "donotanswer"),
    "reasoning": ("math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"),
}
SUBSET_SECTION = {s: section for section, subsets in REWARD_BENCH_SECTIONS.items() for s in subsets}
SECTIONS = tuple(REWARD_BENCH_SECTIONS)


def reward_bench(row: dict) -> Iterator[PreferencePair]:
    subset = _get(row, "subset")
    section = SUBSET_SECTION.get(subset, subset if subset in SECTIONS else None)
    if section is None:
        raise RowError("subset", f"unknown RewardBench subset {subset!r}")
    prompt = _get(row, "prompt")
    yield PreferencePair(_user(prompt), _get(row, "chosen"), _get(row, "rejected"), "reward-bench", section,
                         prompt_id=str(row.get("id")) if row.get("id") is not None else None)


def pairs(row: dict) -> Iterator[PreferencePair]:
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        messages = _user(prompt)
    elif isinstance(prompt, list):
        messages = _messages(prompt, "prompt")
    else:
        raise RowError("prompt", "missing, or neither a string nor a list of messages")
    sc, sr = _opt_float(row, "score_chosen"), _opt_float(row, "score_rejected")
    margin = _opt_float(row, "margin")
    section = row.get("section")
    if section is not None and not isinstance(section, str):
        raise RowError("section", "expected a string")
    yield PreferencePair(
        messages, _get(row, "chosen"), _get(row, "rejected"), row.get("source") or "pairs", section, sc, sr,
        margin if margin is not None else _margin(sc, sr), row.get("prompt_id"),
    )


RowParser = Callable[[dict], Iterable[PreferencePair]]

# one parser per name of PAIR_FORMATS, in its order (zip's strict=True fails at import on a missing one)
FORMATS: dict[str, RowParser | None] = dict(zip(PAIR_FORMATS, (
    hh_rlhf,
    shp,
    None,  # helpsteer: grouped across rows, helpsteer_rows
    pku_saferlhf,
    ultrafeedback,
    ultrafeedback_binarized,
    ultrainteract,
    capybara,
    orca,
    reward_bench,
    pairs,
), strict=True))
