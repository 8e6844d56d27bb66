"""Smoke runs of each TRL trainer on the tiny model: a metric is logged and every parameter moves."""

import copy

import pytest
import torch

from workbench.loop.iteration import train_dpo
from workbench.models.lm import load_policy
from workbench.models.reward import load_reward_model, score, train_reward
from workbench.models.sft import train_sft
from workbench.world.demonstrations import demonstrations
from workbench.world.toy import format_prompt


def _params(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _assert_all_changed(before, after):
    assert before.keys() == after.keys()
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged, f"parameters that did not move: {unchanged}"


def _pairs(world, n=32):
    rows = []
    for p in world.split("pref")[:n]:
        rows.append({"prompt": format_prompt(p.text), "chosen": " " + p.reference, "rejected": " I like bread a lot."})
    return rows


def test_tokenizer_round_trips_and_pads_apart_from_eos(tiny):
    _, _, tok, _ = tiny
    text = "Q: What is 23 plus 45?\nA: 68."
    assert tok.decode(tok(text)["input_ids"]) == text
    assert "2" in tok.tokenize("23") and "3" in tok.tokenize("23")  # digits stay single tokens
    assert tok.pad_token_id != tok.eos_token_id


def test_sft_trains_every_parameter(tiny, tmp_path):
    cfg, root, tok, world = tiny
    cfg = copy.deepcopy(cfg)
    cfg.sft.epochs = 1
    before = _params(load_policy(root / "init"))
    demos = demonstrations(world.split("sft")[:64], cfg.world, 0)
    metrics = train_sft(cfg, demos, root / "init", tok, tmp_path / "sft")
    assert metrics["train_loss"] > 0
    _assert_all_changed(before, _params(load_policy(tmp_path / "sft")))


def test_reward_model_trains_and_scores(tiny, tmp_path):
    cfg, root, tok, world = tiny
    cfg = copy.deepcopy(cfg)
    cfg.reward.epochs = 2
    before = _params(load_reward_model(root / "init", tok))
    rows = _pairs(world)
    metrics = train_reward(cfg, rows, root / "init", tok, tmp_path / "rm")
    assert "train_accuracy" in metrics
    rm = load_reward_model(tmp_path / "rm", tok)
    _assert_all_changed(before, _params(rm))
    prompts = [r["prompt"] for r in rows]
    chosen = score(rm, tok, prompts, [r["chosen"].strip() for r in rows])
    rejected = score(rm, tok, prompts, [r["rejected"].strip() for r in rows])
    assert len(set(round(c, 6) for c in chosen)) > 1  # not one score for everything (the pad == eos trap)
    # scores do not depend on batch padding
    alone = score(rm, tok, prompts[:1], [rows[0]["chosen"].strip()])[0]
    assert abs(alone - chosen[0]) < 1e-4
    assert sum(c > r for c, r in zip(chosen, rejected)) > len(rows) / 2


def test_dpo_trains_every_parameter(tiny, tmp_path):
    cfg, root, tok, world = tiny
    cfg = copy.deepcopy(cfg)
    cfg.dpo.learning_rate = 1e-3
    before = _params(load_policy(root / "init"))
    metrics = train_dpo(cfg, _pairs(world), root / "init", root / "init", tok, tmp_path / "pi1", seed=0)
    assert metrics["train_loss"] > 0
    _assert_all_changed(before, _params(load_policy(tmp_path / "pi1")))


def test_response_logprobs_are_batch_invariant_and_kl_to_self_is_zero(tiny):
    from workbench.evaluation.metrics import kl_estimate
    from workbench.loop.generation import response_logprobs

    _, root, tok, world = tiny
    model = load_policy(root / "init")
    prompts = [format_prompt(p.text) for p in world.split("eval")[:6]]
    responses = ["12.", "Tea is hot and calm.", "apple, pear.", "Sorry, I can't help with that.", "9.", "x"]
    together = response_logprobs(model, tok, prompts, responses, temperature=0.7)
    alone = [response_logprobs(model, tok, [p], [r], temperature=0.7)[0] for p, r in zip(prompts, responses)]
    assert together == pytest.approx(alone, abs=1e-4)
    assert all(lp < 0 for lp in together)
    assert kl_estimate(together, response_logprobs(load_policy(root / "init"), tok, prompts, responses, 0.7)) == 0.0


def test_lora_trains_adapters_and_saves_plain_merged_models(tiny, tmp_path):
    """lora.r > 0: DPO, the BT RM and the PM train LoRA adapters through TRL's peft_config; each saved folder is a
    plain model (the adapter merged) with the adapter alone in adapter/. Exactly the target modules' weights move
    (and the RM's score head, which peft trains in full); embeddings and norms stay as they were."""
    from workbench.models.lm import ADAPTER_DIR
    from workbench.models.preference import load_pm, train_pm

    cfg, root, tok, world = tiny
    cfg = copy.deepcopy(cfg)
    cfg.lora.r, cfg.lora.alpha = 4, 8.0
    cfg.dpo.learning_rate = 1e-3
    targets = tuple(cfg.lora.target_modules)

    def check(before, after, head=()):
        assert before.keys() == after.keys()
        moved = {k for k in before if not torch.equal(before[k], after[k])}
        expected = {k for k in before if any(f".{t}." in k for t in targets) or k.startswith(head or "\0")}
        assert moved == expected

    rows = _pairs(world)
    init = _params(load_policy(root / "init"))
    train_dpo(cfg, rows, root / "init", root / "init", tok, tmp_path / "pi1", seed=0)  # reference = the adapters off
    assert not (tmp_path / "pi1" / "adapter_config.json").exists()
    assert (tmp_path / "pi1" / ADAPTER_DIR / "adapter_config.json").is_file()
    check(init, _params(load_policy(tmp_path / "pi1")))
    pi1 = _params(load_policy(tmp_path / "pi1"))
    train_dpo(cfg, rows, tmp_path / "pi1", root / "init", tok, tmp_path / "pi2", seed=0)  # π0 as a separate reference
    check(pi1, _params(load_policy(tmp_path / "pi2")))

    before = _params(load_reward_model(root / "init", tok))
    cfg.reward.epochs = 1
    train_reward(cfg, rows, root / "init", tok, tmp_path / "rm")
    check(before, _params(load_reward_model(tmp_path / "rm", tok)), head="score.")

    cfg.reward.pm_epochs = 1
    train_pm(cfg, rows[:8], root / "init", tok, tmp_path / "pm")
    check(init, _params(load_pm(tmp_path / "pm")))
