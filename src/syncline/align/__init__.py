"""Alignment: clock models per asset, offset and drift detectors that abstain when unsure,
segmenters, and aligned tuples. Corrections are versioned catalog rows, never re-encodes."""
