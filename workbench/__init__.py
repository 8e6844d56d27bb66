"""RLHF Workbench: run, watch and question online iterative RLHF (Dong, Xiong et al. 2024).

Importing the package is cheap: torch, transformers, TRL and the UI packages load only inside the stages that
use them.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # `from workbench import Workbench` without making `import workbench` load pandas
    if name == "Workbench":
        from workbench.interfaces.api import Workbench

        return Workbench
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
