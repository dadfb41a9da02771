"""Evaluation per slice with honest statistics: counts per slice, metrics with intervals, gates,
gaps, calibration and abstention, on syncline runs and imported predictions."""
