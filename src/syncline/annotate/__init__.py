"""Annotation: label schemas, guidelines, annotators, grading, agreement, interop."""
