"""Runs made of stages: the whole pipeline (run.py) and the reward stage's candidate responses (reward_data.py),
experiments of arms × seeds (experiment.py), reward models on their own (rm_train.py), and exports for external
evaluators (export.py)."""
