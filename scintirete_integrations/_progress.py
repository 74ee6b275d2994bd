"""Progress of the stores' long writes: INFO log lines with counts and rates, and an optional report.

Silent by default: the lines go to the adapter's logger (``scintirete_integrations.langchain`` or
``.llama_index``), which prints nothing until logging is configured, and ``progress=False``
reports nothing. ``progress=True`` keeps one status line on stderr (a line per batch when stderr is not a
terminal, so a file or a pipe gets whole lines); a callable is called with
``(done, total)`` after every batch.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TypeAlias

from .errors import InvalidArgumentError

#: What the stores' ``progress=`` accepts.
ProgressArg: TypeAlias = bool | Callable[[int, int], None]


class Progress:
    """Counts one write of ``total`` items, batch by batch."""

    def __init__(self, total: int, progress: ProgressArg, logger: logging.Logger, what: str) -> None:
        if not isinstance(progress, bool) and not callable(progress):
            raise InvalidArgumentError(
                f"progress must be True, False or a callable taking (done, total), got {type(progress).__name__}"
            )
        self.total = total
        self.done = 0
        self.skipped = 0
        self._progress = progress
        self._logger = logger
        self._what = what
        self._started = time.monotonic()

    def advance(self, count: int, *, skipped: int = 0) -> None:
        """``count`` more items are stored, ``skipped`` of them were already stored unchanged."""
        self.done += count
        self.skipped += skipped
        elapsed = max(time.monotonic() - self._started, 1e-9)
        line = (
            f"{self._what}: {self.done}/{self.total} stored ({self.skipped} already stored unchanged), "
            f"{self.done / elapsed:.0f}/s"
        )
        self._logger.info("%s", line)
        if callable(self._progress):
            self._progress(self.done, self.total)
        elif self._progress and sys.stderr.isatty():  # one status line, rewritten in place
            end = "\n" if self.done >= self.total else ""
            print(f"\r{line}", end=end, file=sys.stderr, flush=True)
        elif self._progress:  # a file or a pipe: whole lines, which a log reader can follow
            print(line, file=sys.stderr, flush=True)
