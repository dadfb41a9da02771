"""Governance: consent withdrawal that really erases, its proof, and keyed hashes for the log."""
