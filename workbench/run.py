"""`workbench.run.Pipeline` and `workbench.run.main`, the documented import path; the code is
workbench/pipeline/run.py."""

from workbench.pipeline.run import Pipeline, main

__all__ = ["Pipeline", "main"]
