"""How a Lite collection finds neighbours: an exact scan, or a graph like the real server's.

- ``"exact"`` (``exact.py``): every search scans every live row; nothing is ever lost.
- ``"hnsw"`` (``hnsw.py``): the real server's HNSW as the facts page describes it, with its
  limits: at most ``ef`` results, deleted nodes block the way, some nodes are unreachable.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["DEFAULT_INDEX", "INDEX_KINDS", "IndexKind"]

IndexKind = Literal["exact", "hnsw"]
INDEX_KINDS: tuple[IndexKind, ...] = ("exact", "hnsw")
DEFAULT_INDEX: IndexKind = "exact"
