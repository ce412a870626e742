"""PostgreSQL-specific SQL (team mode's shared database).

Written against PostgreSQL's documented trigger syntax; the PostgreSQL issue adds its test
server to CI. Until then only SQLite is exercised by the suite.
"""

from __future__ import annotations

APPEND_ONLY_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION logomesh_audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_records is append-only'; END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
       FOR EACH ROW EXECUTE FUNCTION logomesh_audit_append_only()""",
)
DROP_APPEND_ONLY_TRIGGERS = (
    "DROP TRIGGER IF EXISTS audit_records_append_only ON audit_records",
    "DROP FUNCTION IF EXISTS logomesh_audit_append_only()",
)
