"""Progress bars that show where the analyst looks: a widget in JupyterLab (ipywidgets, the ``lab``
extra), a text bar there without widgets, a terminal bar on a terminal; nothing otherwise (pipes,
CI logs, headless papermill runs whose notebooks are records) or when ``quiet``."""
from __future__ import annotations

import importlib.util
import os
import sys

from tqdm import tqdm


def in_jupyter_session() -> bool:
    """True inside a kernel that a Jupyter server started for a notebook someone has open (JupyterLab
    sets ``JPY_SESSION_NAME``); False for headless kernels (papermill, nbclient) and plain Python."""
    if "IPython" not in sys.modules or not os.environ.get("JPY_SESSION_NAME"):
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def progress_bar(total: int, unit: str, desc: str, quiet: bool = False) -> tqdm:
    """A bar of ``total`` steps that appears after two seconds, in the form the session can show."""
    options = {"total": total, "unit": unit, "desc": desc, "mininterval": 0.5, "delay": 2.0}
    if in_jupyter_session():
        if importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm as widget_bar

            return widget_bar(disable=quiet, **options)
        return tqdm(disable=quiet, file=sys.stderr, **options)  # the kernel's stderr honours \r
    return tqdm(disable=quiet or not sys.stderr.isatty(), file=sys.stderr, **options)
