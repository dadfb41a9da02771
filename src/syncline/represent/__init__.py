"""Representations: encoders with names and versions, and the vectors they produce."""
