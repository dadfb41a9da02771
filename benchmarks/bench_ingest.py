"""Ingest throughput and memory: probe + hash + register of many small media files.

Makes N small real files (WAV via soundfile, JPEG/PNG via Pillow, sensor CSV, SRT) and runs
``syncline.ingest`` on them in a fresh project, in a child process so that its peak RSS is
measured alone. Reports files/s for reference-in-place ingest (probe + hash + register) and
for the default (also scrub + copy into managed storage), and peak RSS for two sizes of N to
show memory staying flat as the file count grows. Also times hashing of one large file against
``cat FILE > /dev/null`` (disk read speed) on the same file.

    .venv/bin/python benchmarks/bench_ingest.py [--files 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_files(folder: Path, n: int, seed: int = 0) -> None:
    import soundfile as sf
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        kind = i % 4
        ent = folder / f"ent{i % 50:03d}"
        ent.mkdir(exist_ok=True)
        if kind == 0:
            sf.write(ent / f"a{i}.wav", rng.normal(0, 0.1, 8000).astype(np.float32), 16000)
        elif kind == 1:
            Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(ent / f"p{i}.jpg", quality=80)
        elif kind == 2:
            t = np.arange(60)
            rows = "\n".join(f"{x},{20 + rng.normal():.3f},{50 + rng.normal():.2f}" for x in t)
            (ent / f"s{i}.csv").write_text("t,temperature[degC],humidity[%]\n" + rows + "\n")
        else:
            (ent / f"m{i}.srt").write_text(f"1\n00:00:00,000 --> 00:00:01,500\nmemo {i}\n\n"
                                           f"2\n00:00:02,000 --> 00:00:03,000\nall calm\n")


def child(data: str, project: str, copy: bool) -> None:
    from syncline.ingest import ingest
    from syncline.project import Project, init_project

    init_project(Path(project))
    p = Project.open(Path(project))
    p.settings.copy_media = copy
    t = time.perf_counter()
    s = ingest(p, [Path(data)])
    dt = time.perf_counter() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"files": s.files_seen, "new": s.new_assets, "quarantined": len(s.quarantined),
                      "seconds": dt, "files_per_s": s.files_seen / dt, "peak_rss_mb": rss_mb}))


def run_child(data: Path, project: Path, copy: bool) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", str(data), str(project), "1" if copy else "0"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_hash(folder: Path, mb: int) -> None:
    from syncline.ids import sha256_file

    big = folder / "big.bin"
    with big.open("wb") as f:
        chunk = np.random.default_rng(1).integers(0, 255, 1 << 24, dtype=np.uint8).tobytes()
        for _ in range(mb // 16):
            f.write(chunk)
    t = time.perf_counter()
    subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True)
    cat_s = time.perf_counter() - t
    t = time.perf_counter()
    sha256_file(big)
    h_s = time.perf_counter() - t
    print(f"hash {mb} MB: sha256 {mb / h_s:.0f} MB/s vs cat {mb / cat_s:.0f} MB/s (ratio {cat_s / h_s:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2] == "1")
        return
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for n in (args.files // 4, args.files):
            make_files(root / f"data{n}", n)
            ref = run_child(root / f"data{n}", root / f"proj-ref{n}", copy=False)
            cp = run_child(root / f"data{n}", root / f"proj-copy{n}", copy=True)
            print(f"N={n}: in place {ref['files_per_s']:.0f} files/s (peak RSS {ref['peak_rss_mb']:.0f} MB); "
                  f"scrub+copy {cp['files_per_s']:.0f} files/s (peak RSS {cp['peak_rss_mb']:.0f} MB); "
                  f"new={ref['new']} quarantined={ref['quarantined']}")
        bench_hash(root, 512)


if __name__ == "__main__":
    main()
