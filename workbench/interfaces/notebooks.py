"""The notebooks in notebooks/: find one by name, open it in JupyterLab, strip outputs before committing.

    workbench notebook 01_quickstart [--root runs]   # JupyterLab on it, with $WORKBENCH_ROOT = the store root
    workbench notebook --strip                       # remove outputs and execution counts from every notebook

Notebooks are stored without outputs so their diffs show code and text only. Stripping is plain JSON editing (no
Jupyter package needed) and writes the same layout nbformat does (indent 1, sorted keys), so a stripped notebook that
Jupyter saves again differs only where its content changed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from workbench.config import SOURCE_DIR

NOTEBOOK_DIR = SOURCE_DIR / "notebooks"


def notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    return sorted(folder.glob("*.ipynb"))


def find(name: str, folder: Path = NOTEBOOK_DIR) -> Path:
    """A notebook by file name, stem or unique prefix ("01", "02_length")."""
    found = notebooks(folder)
    if not found:
        raise FileNotFoundError(f"no notebooks in {folder}: they ship with a source checkout of the project")
    stem = name.removesuffix(".ipynb")
    exact = [p for p in found if p.stem == stem]
    matches = exact or [p for p in found if p.stem.startswith(stem)]
    if len(matches) != 1:
        names = ", ".join(p.stem for p in found)
        what = "matches several" if matches else "matches none"
        raise FileNotFoundError(f"notebook {name!r} {what} of: {names}")
    return matches[0]


def strip(path: Path) -> bool:
    """Remove outputs, execution counts and per-run metadata from one notebook in place; True if it changed."""
    text = Path(path).read_text()
    try:
        nb = json.loads(text)
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path}: not a Jupyter notebook (expected JSON with a 'cells' list)") from None
    for cell in cells:
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    meta = nb.setdefault("metadata", {})
    meta.pop("widgets", None)
    if "language_info" in meta:  # its version fields change with every interpreter that ran it
        meta["language_info"] = {"name": meta["language_info"].get("name", "python")}
    out = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if out == text:
        return False
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    tmp.write_text(out)
    tmp.replace(path)
    return True


def has_outputs(path: Path) -> bool:
    nb = json.loads(Path(path).read_text())
    return any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c.get("cell_type") == "code")


def open_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "jupyter", "lab", str(path)]


def open_in_lab(path: Path, root: str | Path) -> int:
    """Replace this process with JupyterLab on `path`; the notebooks read the store root from $WORKBENCH_ROOT."""
    from workbench.import_utils import is_available
    from workbench.interfaces.api import ROOT_ENV

    root = Path(root).resolve()
    cmd = open_command(path)
    if not is_available("jupyterlab"):
        print("workbench notebook: JupyterLab is not installed. Install it and run:\n"
              '  pip install -e ".[notebooks]"\n'
              f"  {ROOT_ENV}={root} {' '.join(cmd)}", file=sys.stderr)
        return 2
    print(f"workbench notebook: {path.name} in JupyterLab (store: {root}; Ctrl-C stops it)", flush=True)
    os.execve(sys.executable, cmd, dict(os.environ, **{ROOT_ENV: str(root)}))
    return 0  # not reached
