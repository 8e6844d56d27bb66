"""What a person drives: the CLI (cli.py), the notebook API (api.py, notebooks.py), the labeling session
(labeling.py), and the dashboard's queries (dashboard_data.py, over the per-run cache of run_cache.py) and figures
(figures.py)."""
