"""How the loopback Discord reads requests and shapes answers on the wire.

discord.py reads more than the status: a body is JSON only if ``Content-Type`` is exactly
``application/json`` (no charset); every answer's ``X-RateLimit-*`` headers feed its
buckets (a bucket seen with ``Remaining: 0`` makes it wait before the next call, so the
fake keeps a wide one); and it retries a 429 only when ``Via`` is set, since a 429 without
it comes from Cloudflare, not Discord, and is raised at once. Bodies arrive as JSON, or as
multipart with ``payload_json`` and ``files[n]`` when a message carries attachments.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

RATE_LIMIT = 50  # requests per bucket per second, far above what a test sends


@dataclass
class Failure:
    """What ``fail_next`` arranged for a route: ``times`` more answers of ``status``."""

    status: int
    times: int
    retry_after: float
    global_: bool
    code: int | None
    message: str | None

    def answer(self) -> tuple[int, dict[str, Any]]:
        """One injected answer, as Discord's rate limiter (429) or API would give it."""
        self.times -= 1
        if self.status == 429:
            body: dict[str, Any] = {
                "message": self.message or "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.global_,
            }
            if self.code is not None:
                body["code"] = self.code
            return 429, body
        return self.status, {
            "message": self.message or f"{self.status}: injected by the fake",
            "code": self.code if self.code is not None else 0,
        }


def response(status: int, body: Any, bucket: str) -> web.Response:
    """The answer with Discord's headers; a 429's carry its Retry-After and scope."""
    headers = {
        "Via": "1.1 google",
        "X-RateLimit-Bucket": f"{zlib.crc32(bucket.encode()):08x}",
        "X-RateLimit-Limit": str(RATE_LIMIT),
        "X-RateLimit-Remaining": str(RATE_LIMIT - 1),
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
    }
    if status == 429 and isinstance(body, dict):
        retry_after = float(body.get("retry_after", 1.0))
        headers.update({
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "global" if body.get("global") else "user",
        })  # fmt: skip
        if body.get("global"):
            headers["X-RateLimit-Global"] = "true"
    if status == 204 or body is None:
        return web.Response(status=204, headers=headers)
    headers["Content-Type"] = "application/json"
    return web.Response(body=json.dumps(body).encode(), status=status, headers=headers)


async def read_body(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
    """The JSON body, or a multipart body's ``payload_json`` and its files (name, bytes);
    ValueError if the body is not JSON."""
    if request.content_type.startswith("multipart/"):
        parsed: Any = None
        files: list[tuple[str, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            content = await part.read()
            if part.name == "payload_json":
                parsed = json.loads(content)
            elif part.filename is not None:
                files.append((part.filename, bytes(content)))
        return parsed, files
    text = await request.text() if request.body_exists else ""
    if not text:
        return None, []
    try:
        return json.loads(text), []
    except json.JSONDecodeError as error:
        raise ValueError(f"the body is not JSON: {error}") from None
