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
    [
        # Provider batches (OpenAI, Anthropic, Gemini batch APIs) in flight, by whose they are, so a
        # driver that crashed after submitting collects them instead of submitting them again.
        """CREATE TABLE batches (
            batch_id TEXT PRIMARY KEY,
            scope TEXT NOT NULL,
            model TEXT NOT NULL,
            items TEXT NOT NULL,
            status TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            updated DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX batches_scope ON batches (scope, created)",
    ],
    [
        # The control plane: the audit log of privileged actions, hash-chained (`store/audit.py`; its
        # head is a flag).
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            at DOUBLE PRECISION NOT NULL,
            actor TEXT NOT NULL,
            tenant TEXT,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL)""",
        "CREATE INDEX audit_tenant ON audit (tenant, seq)",
        # Tenants: whose each run and job is (None: the single-tenant default), and their API keys
        # (`store/keys.py`: a key's secret is kept only as its SHA-256).
        "ALTER TABLE runs ADD COLUMN tenant TEXT",
        "CREATE INDEX runs_tenant ON runs (tenant, updated)",
        "ALTER TABLE jobs ADD COLUMN tenant TEXT",
        """CREATE TABLE api_keys (
            key_id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            admin INTEGER NOT NULL DEFAULT 0,
            secret_sha256 TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            revoked DOUBLE PRECISION)""",
        # The cost governor (`store/spend.py`): what each scope (everything, a tenant) spent per
        # period, and the reservations of calls in flight.
        """CREATE TABLE spend (
            scope TEXT NOT NULL,
            period TEXT NOT NULL,
            usd DOUBLE PRECISION NOT NULL DEFAULT 0,
            tokens BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (scope, period))""",
        """CREATE TABLE spend_holds (
            hold_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            period TEXT NOT NULL,
            usd DOUBLE PRECISION NOT NULL,
            tokens BIGINT NOT NULL,
            expires DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (hold_id, scope, period))""",
        "CREATE INDEX spend_holds_scope ON spend_holds (scope, period, expires)",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
