"""What a person drives: the CLI (cli.py), the notebook API (api.py, notebooks.py), the labeling session
(labeling.py), and the dashboard's queries and figures (dashboard_data.py, figures.py)."""
