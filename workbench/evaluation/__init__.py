"""Evaluation: the evaluate stage, π_t against π0 on held-out prompts (policy_eval.py), the policy's metrics
(metrics.py), the reward models by section (rm_eval.py), agreement between judges on the same pairs
(agreement.py), and a run's judge card beside the published figures (judge_card.py)."""
