"""Decomposed pipelines: stages with typed ports, an explicit graph, executors, routing, traces."""
