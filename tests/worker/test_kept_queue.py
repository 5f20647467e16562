"""The partials stream's queue keeps its records when Faust's flow control resumes, as it
does at the end of every recovery (`streams.worker.transport.kept_queue`); other streams' queues are cleared."""

from __future__ import annotations

import asyncio

import faust

from streams.worker.transport.kept_queue import cleared_on_resume, keep_queued_on_resume


def test_a_kept_queue_keeps_its_records_when_the_flow_resumes() -> None:
    async def run() -> tuple[bool, bool, int, int]:
        app = faust.App("kept-queue-test", broker="kafka://127.0.0.1:1")
        kept, other = app.channel().stream(), app.channel().stream()
        before = cleared_on_resume(app, kept)
        keep_queued_on_resume(app, kept)
        for stream in (kept, other):
            stream.channel.queue.put_nowait("a partial")
        app.flow_control.resume()  # what Faust's recovery calls when it ends
        return before, cleared_on_resume(app, kept), kept.channel.queue.qsize(), other.channel.queue.qsize()

    before, after, kept_size, other_size = asyncio.run(run())
    assert (before, after) == (True, False)
    assert (kept_size, other_size) == (1, 0)  # Faust's own rule still clears the other
