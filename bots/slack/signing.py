"""HTTP mode's gate: only a request Slack signed, recently, and only once, gets through.

Slack signs each request with the app's signing secret: ``v0=`` HMAC-SHA256 of
``v0:{X-Slack-Request-Timestamp}:{body}`` in ``X-Slack-Signature``. Bolt's own
verification checks the same (and still runs behind this gate), but answers every failure
with one "invalid request"; this gate says which check failed, so whoever sets the bot up
can fix it, and adds what Bolt lacks: a signature accepted once is refused the second time
inside the window (a replay). No refusal, and no log line, includes a signature's value.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping

from slack_sdk.signature import SignatureVerifier

from bots.chat.recent import RecentKeys
from bots.web import RequestRefusedError

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


class SignatureGuard:
    """Checks one request's headers and body against the signing secret and the window."""

    def __init__(
        self,
        signing_secret: str,
        window_s: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # slack_sdk's own signer computes the signature; the checks around it are ours.
        self._verifier = SignatureVerifier(signing_secret)
        self._window_s = window_s
        self._clock = clock
        # A timestamp up to one window in the future is accepted too, so a signature stays
        # valid for two windows after it is first seen; remember it that long.
        self._accepted = RecentKeys(2 * window_s)

    def check(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return if the request is Slack's, recent and new; else raise RequestRefusedError."""
        stamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not stamp or not signature:
            missing = [TIMESTAMP_HEADER] if not stamp else []
            missing += [SIGNATURE_HEADER] if not signature else []
            raise RequestRefusedError(
                401,
                f"Missing header {' and '.join(missing)}: the bot only accepts requests Slack "
                "signed with the app's signing secret.",
            )
        try:
            signed_at = int(stamp)
        except ValueError:
            raise RequestRefusedError(
                401, f"{TIMESTAMP_HEADER} must be a Unix time in seconds, not {stamp[:32]!r}."
            ) from None
        age = self._clock() - signed_at
        if abs(age) > self._window_s:
            log.warning("Refused a Slack request signed %s", _describe_age(age))
            raise RequestRefusedError(
                401,
                f"Stale request: it was signed {_describe_age(age)}, and requests outside "
                f"{self._window_s:.0f} s are refused (a replay, or this machine's clock is "
                "off: check it is synchronised, e.g. with NTP).",
            )
        try:
            expected = self._verifier.generate_signature(timestamp=stamp, body=body) or ""
        except UnicodeDecodeError:  # it signs text; what Slack sends always is
            raise RequestRefusedError(
                400, "Malformed request: the body is not UTF-8 text."
            ) from None
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise RequestRefusedError(
                401,
                "Bad signature: the request was not signed with this app's signing secret. "
                "If it came from Slack, set SLACK_SIGNING_SECRET to the app's Basic "
                "Information -> App Credentials -> Signing Secret.",
            )
        if not self._accepted.remember(f"{stamp}:{signature}"):
            log.warning("Refused a replayed Slack request (signed at %s)", stamp)
            raise RequestRefusedError(
                401,
                "Replayed request: this signed request was already accepted once; Slack "
                "signs each delivery anew, so a repeat is not from Slack.",
            )


def _describe_age(age: float) -> str:
    if age < 0:
        return f"{-age:.0f} s in the future"
    return f"{age:.0f} s ago"
