"""Evaluation: the policy's metrics against π0 (metrics.py), the reward models by section (rm_eval.py), and agreement
between judges on the same pairs (agreement.py)."""
