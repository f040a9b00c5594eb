"""Verification: one module per method, each a pure async function; deterministic checks first."""
