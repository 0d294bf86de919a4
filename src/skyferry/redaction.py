"""Text that leaves the server (problem details, job errors, /ready) without its local paths.

A server's directory layout tells an attacker where things live and which user runs what; the
logs keep the full text, clients get ``…/last-part`` instead of ``/srv/app/.skyferry/blobs/x``.
"""

from __future__ import annotations

import re

_FILE_URL = re.compile(r"\bfile://(?:localhost)?(/[^\s'\"]*)")
"""``file:///abs/dir``, as a file:// store's URL appears in messages."""

_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/%…-])/[\w.@+#-]+(?:/[\w.@+#-]*)*")
"""A POSIX absolute path standing on its own: not the path of an http:// URL (after the host),
nor the second half of "read/write", nor one already cut to "…/name"."""


def without_local_paths(text: str) -> str:
    """``text`` with every absolute path, bare or in a file:// URL, cut to its last part."""
    text = _FILE_URL.sub(lambda match: "file://" + _last_part(match.group(1)), text)
    return _ABSOLUTE_PATH.sub(lambda match: _last_part(match.group(0)), text)


def _last_part(path: str) -> str:
    name = path.rstrip("/").rpartition("/")[2]
    return f"…/{name}" if name else "…"
