"""Optional dependencies: one probe per package, and one error message with the install command.

`import workbench` never imports these; code that needs one calls `require(...)` at the point of use.
"""

from __future__ import annotations

import importlib.util

# package → the extra of this project that installs it
EXTRAS = {"streamlit": "app", "gradio": "app", "playwright": "dev", "vllm": "vllm", "jupyterlab": "notebooks"}


def is_available(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def require(package: str, what: str) -> None:
    """Raise ImportError naming the install command when `package` is missing."""
    if not is_available(package):
        extra = EXTRAS.get(package)
        how = f'pip install -e ".[{extra}]"' if extra else f"pip install {package}"
        raise ImportError(f"{what} needs the `{package}` package: {how}")
