"""Preference data: the public datasets' row formats (formats.py), reading files and hub sets (sources.py), the
paper's filters (filters.py), mixtures of sources (mixtures.py), how a pair becomes a trainer's row (layout.py), the
labelled pairs in the store (labels.py), and the extra pairs a run's reward model can train on (reward_sources.py)."""
