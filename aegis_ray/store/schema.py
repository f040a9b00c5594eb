"""The store's schema, as versioned migrations in code (applied in order, each once).

Checkpoints are compact: one row per run holds its latest state; the step log is append-only and
small; both are prunable. Every write of a claimed run is fenced by its `epoch`.
"""

from __future__ import annotations

# Each migration: a list of statements. `{serial}` is the dialect's auto-increment primary key.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            status TEXT NOT NULL,
            state TEXT,
            step_count INTEGER NOT NULL DEFAULT 0,
            epoch INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
            created DOUBLE PRECISION NOT NULL,
            updated DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX runs_status ON runs (status, updated)",
        """CREATE TABLE steps (
            run_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (run_id, idx))""",
        """CREATE TABLE effects (
            key TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            status TEXT NOT NULL,
            result TEXT,
            created DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE effect_log (
            id {serial},
            run_id TEXT NOT NULL,
            effect_key TEXT NOT NULL,
            entry TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX effect_log_run ON effect_log (run_id)",
        """CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            token INTEGER NOT NULL DEFAULT 0,
            worker TEXT,
            lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
            result TEXT,
            error TEXT,
            created DOUBLE PRECISION NOT NULL,
            updated DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX jobs_claim ON jobs (status, lease_until, created)",
        """CREATE TABLE approvals (
            request_id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            request TEXT NOT NULL,
            approved INTEGER,
            created DOUBLE PRECISION NOT NULL,
            decided DOUBLE PRECISION)""",
        "CREATE INDEX approvals_run ON approvals (run_id)",
        """CREATE TABLE flags (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated DOUBLE PRECISION NOT NULL)""",
    ],
    [
        # The session a run belongs to (workspace, models, policies; never credentials), for resumes.
        "ALTER TABLE runs ADD COLUMN session TEXT",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
