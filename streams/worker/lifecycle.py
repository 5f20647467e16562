"""When the worker may touch its state, and how an agent's error ends it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


def tables_ready(app: Any) -> bool:
    """False from a rebalance's start until its table recovery ended.

    An engine built in between would restore half-recovered tables, and its next publish
    would persist that loss. Agents get no events then; timers and views must wait."""
    return not (app.rebalancing or app.in_recovery)


@contextlib.asynccontextmanager
async def fatal(app: Any, agent: str) -> AsyncIterator[None]:
    """An agent's error stops the worker (exit code != 0) instead of leaving it running
    without the agent, or restarting the agent on half-applied state; the restart
    recovers the committed state and replays from the last commit."""
    try:
        yield
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        app.log.exception("%s failed: stopping the worker, its restart replays from the last commit", agent)
        await app.crash(exc)
        raise
