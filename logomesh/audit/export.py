"""Streaming export of the audit trail to JSON Lines or CSV, for auditors and SIEMs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from logomesh.audit.models import HASHED_FIELDS
from logomesh.audit.store import AuditStore
from logomesh.canonical import canonical_json

COLUMNS = (*HASHED_FIELDS, "hash")


def export_records(store: AuditStore, path: Path, fmt: str) -> int:
    """Write every record in chain order; returns how many. Writes via a temp file."""
    tmp = path.with_name(path.name + ".partial")
    count = 0
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS) if fmt == "csv" else None
        if writer:
            writer.writeheader()
        for batch in store.iter_all():
            for record in batch:
                row = record.to_dict()
                if writer:
                    row["arguments"] = canonical_json(row["arguments"])
                    row["details"] = canonical_json(row["details"])
                    writer.writerow(row)
                else:
                    handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
    tmp.replace(path)
    return count
