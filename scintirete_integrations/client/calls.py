"""What a request plan yields and a runner makes: :class:`Call`, :class:`Pause` and the :data:`Plan` type.

Also :data:`Timeout` with its :data:`USE_CLIENT_DEFAULT`, the per-call timeout every method takes.
Both clients, the request plans (``plans.py``) and the document layer speak in these terms.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Final, NamedTuple, TypeVar

from google.protobuf.message import Message

T = TypeVar("T")


class _UseClientDefault:
    """Type of :data:`USE_CLIENT_DEFAULT`: "use the client's timeout", as opposed to None, "no deadline"."""

    _instance: _UseClientDefault | None = None

    def __new__(cls) -> _UseClientDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT: Final = _UseClientDefault()
Timeout = float | None | _UseClientDefault


class Call(NamedTuple):
    """One RPC a plan wants made: the method name, its request and its timeout."""

    rpc: str
    request: Message
    timeout: Timeout = USE_CLIENT_DEFAULT


class Pause(NamedTuple):
    """A wait a plan asks for between calls (the sync client sleeps, the async one awaits)."""

    seconds: float


#: A plan yields a Call and receives its response (or the error, thrown in), or yields a list of
#: Calls to have them made concurrently and receives a list of responses or ScintireteErrors,
#: or yields a Pause and receives None after it.
Plan = Generator[Call | list[Call] | Pause, Any, T]
