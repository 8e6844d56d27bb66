"""The online loop: sampling (sampling.py; HF in generation.py, vLLM in vllm_generation.py), best-vs-worst
selection (selection.py), one iteration's rollout and DPO (iteration.py), which RM serves each iteration and which
iterations refresh it (schedule.py), the online RM refresh inside a rollout (refresh.py), and the TRL peers
(peers.py)."""
