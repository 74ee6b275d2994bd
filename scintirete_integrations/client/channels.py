"""The async client's channels: one grpc.aio channel per event loop, closed when its loop shuts down."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable
from typing import NamedTuple

import grpc
import grpc.aio

from .._proto.scintirete.v1 import scintirete_pb2_grpc as pb_grpc  # isort: skip


class _LoopChannel(NamedTuple):
    channel: grpc.aio.Channel
    stub: pb_grpc.ScintireteServiceStub
    closer: AsyncGenerator[None, None]


class _ChannelPerLoop:
    """One grpc.aio channel per event loop, made on the loop's first call.

    A grpc.aio channel works only on the loop that created it, while one client object is
    used from ``asyncio.run`` after ``asyncio.run``, from notebooks and from threads that each
    run a loop. Each channel closes when its loop shuts down: it is held open by an async
    generator, which asyncio closes in ``shutdown_asyncgens()`` (``asyncio.run`` and
    ``asyncio.Runner`` call it before closing the loop). Loops closed without that are dropped
    on the next call.
    """

    def __init__(self, new_channel: Callable[[], grpc.aio.Channel]) -> None:
        self._new_channel = new_channel
        self._lock = threading.Lock()
        self._by_loop: dict[asyncio.AbstractEventLoop, _LoopChannel] = {}

    async def stub(self) -> pb_grpc.ScintireteServiceStub:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._by_loop.get(loop)
            if entry is not None:
                return entry.stub
            for closed in [other for other in self._by_loop if other.is_closed()]:
                del self._by_loop[closed]
            channel = self._new_channel()
            entry = _LoopChannel(channel, pb_grpc.ScintireteServiceStub(channel), self._hold(loop, channel))
            self._by_loop[loop] = entry
        await entry.closer.__anext__()  # first iteration registers the generator with this loop
        return entry.stub

    async def _hold(
        self, loop: asyncio.AbstractEventLoop, channel: grpc.aio.Channel
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                if (entry := self._by_loop.get(loop)) is not None and entry.channel is channel:
                    del self._by_loop[loop]
            await channel.close(grace=None)

    async def close(self) -> None:
        """Close this loop's channel now; other loops close theirs when they next run."""
        current = asyncio.get_running_loop()
        with self._lock:
            entries = list(self._by_loop.items())
            self._by_loop.clear()
        for loop, entry in entries:
            if loop is current:
                await entry.closer.aclose()
            elif not loop.is_closed():
                asyncio.run_coroutine_threadsafe(_aclose(entry.closer), loop)


async def _aclose(generator: AsyncGenerator[None, None]) -> None:
    await generator.aclose()
