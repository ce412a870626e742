"""Token, cost and latency totals per model, user and day, read back from the audit trail.

The trail already holds one record per model call with its tokens, latency and cost, so
usage is a query over it rather than a second set of counters that could disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from logomesh.audit import AuditRecord


@dataclass
class UsageRow:
    day: str
    model: str
    actor: str
    calls: int = 0
    errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "model": self.model,
            "actor": self.actor,
            "calls": self.calls,
            "errors": self.errors,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 6),
            "mean_latency_ms": round(self.latency_ms / self.calls, 1) if self.calls else 0.0,
        }


def summarise(records: Iterable[AuditRecord]) -> list[UsageRow]:
    """Rows per (day, model, actor), newest day first; attempts that never reached a model
    (an unknown name, offline mode) are left out, since they used nothing."""
    rows: dict[tuple[str, str, str], UsageRow] = {}
    for record in records:
        if record.model is None or record.details.get("attempt", 1) == 0:
            continue
        key = (record.timestamp[:10], record.model, record.actor)
        row = rows.setdefault(key, UsageRow(*key))
        row.calls += 1
        row.errors += record.outcome != "ok"
        row.tokens_in += record.tokens_in or 0
        row.tokens_out += record.tokens_out or 0
        row.cost_usd += float(record.details.get("cost_usd") or 0.0)
        row.latency_ms += record.duration_ms
    return sorted(rows.values(), key=lambda r: (r.day, r.model, r.actor), reverse=True)
