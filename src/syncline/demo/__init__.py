"""A seeded, offline demo world: a dairy farm whose data must serve "alert a vet".

``generate_world(out_dir, seed=7)`` writes real media (H.264 video, AAC/WAV audio, espeak-ng
voice memos with SRT/WebVTT, sensor CSVs, EXIF-laden photos, event logs, a metadata table),
a manifest and ``ground_truth.json`` with everything that was planted (see ``demo.world``).
"""

from syncline.demo.world import WorldSummary, generate_world

__all__ = ["WorldSummary", "generate_world"]
