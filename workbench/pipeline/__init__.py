"""Runs made of stages: the whole pipeline's orchestration (run.py: plan, run, fork, the stage records), which runs
can share stages (reuse.py), the reward stage (reward_stage.py), experiments of arms × seeds (experiment.py), the
README's headline table generated from their results (headline.py), reward models on their own (rm_train.py), and
exports for external evaluators (export.py)."""
