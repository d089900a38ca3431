"""The API's JSON answers that payoutd renders itself (`JSONResponse(...)` in a route, the
error handlers, idempotent replays, the payout lane), written by `payoutd.json_text`:
Starlette's JSONResponse text (but for the spelling of some floats) in a fraction of its
CPU. Routes that return a value keep FastAPI's own serialization through their
response model."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse as _StarletteJSONResponse

from payoutd import json_text


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return json_text.dumps(content)
