"""Server-sent events: the one framing every streamed response of Aegis is written with (the
service's `/api/stream` and `/v1/chat/completions`, the simulator's four wire protocols).

A frame is an optional `event:` line and one `data:` line (JSON has no raw newlines), then a blank
line; OpenAI ends a stream with the `[DONE]` sentinel.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any

from starlette.responses import StreamingResponse

MEDIA_TYPE = "text/event-stream"


def frame(data: Mapping[str, Any] | str, event: str | None = None) -> str:
    """One event: `data` is JSON text as is, or a mapping written as compact JSON."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


DONE = frame("[DONE]")


def response(frames: AsyncIterable[str] | Iterable[str], status: int = 200,
             headers: Mapping[str, str] | None = None) -> StreamingResponse:
    """A streamed HTTP response of frames."""
    return StreamingResponse(frames, status, headers, MEDIA_TYPE)
