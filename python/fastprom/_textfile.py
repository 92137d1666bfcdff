"""``write_to_textfile``: the text exposition written atomically, for node_exporter's textfile collector."""

from __future__ import annotations

import os
import threading
from typing import Optional

from ._render import generate_latest
from .openmetrics import exposition as openmetrics
from .registry import Collector

__all__ = ["write_to_textfile"]


def write_to_textfile(
    path: str, registry: Collector, escaping: str = openmetrics.ALLOWUTF8, tmpdir: Optional[str] = None
) -> None:
    """Write the text exposition to ``path`` atomically (for node_exporter's textfile collector).

    The file is written next to ``path`` (or in ``tmpdir``, which must be on the same
    filesystem) and renamed into place.
    """
    directory = tmpdir if tmpdir is not None else os.path.dirname(os.path.abspath(path))
    tmppath = os.path.join(directory, f"{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}")
    data = generate_latest(registry, escaping)
    try:
        with open(tmppath, "wb") as f:
            f.write(data)
        os.replace(tmppath, path)
    except BaseException:
        if os.path.exists(tmppath):
            os.remove(tmppath)
        raise
