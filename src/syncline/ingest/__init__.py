"""Ingest: discover files, hash, probe and scrub them in parallel, register them in the catalog.

Idempotent and resumable (rule 1): asset IDs come from content, managed copies are written
atomically before the catalog row that points at them, and every catalog write is an upsert
on a stable key, so a kill at any point followed by a re-run gives the same catalog.
"""

from syncline.ingest.run import IngestSummary, QuarantinedFile, ingest

__all__ = ["IngestSummary", "QuarantinedFile", "ingest"]
