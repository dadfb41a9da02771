"""Ingest throughput and memory: probe + hash + register of many small media files.

Makes N small real files (WAV via soundfile, JPEG/PNG via Pillow, sensor CSV, SRT) and runs
``syncline.ingest`` on them in a fresh project, in a child process so that its peak RSS is
measured alone. Reports files/s for reference-in-place ingest (probe + hash + register) and
for the default (also scrub + copy into managed storage), and peak RSS for two sizes of N to
show memory staying flat as the file count grows. Also times hashing of one large file against
``cat FILE > /dev/null`` (read speed) and coreutils ``sha256sum`` on the same file, with a warm
and (as root) a cold page cache.

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


def _drop_caches() -> bool:
    """Cold-cache reads need root: ``echo 3 > /proc/sys/vm/drop_caches``."""
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _timed(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


def bench_hash(folder: Path, mb: int) -> None:
    """Our streamed sha256 against ``cat`` (read speed) and coreutils ``sha256sum``, warm and cold."""
    from syncline.ids import sha256_file

    big = folder / "big.bin"
    with big.open("wb") as f:
        chunk = np.random.default_rng(1).integers(0, 255, 1 << 24, dtype=np.uint8).tobytes()
        for _ in range(mb // 16):
            f.write(chunk)

    def cat() -> None:
        subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True)

    def coreutils() -> None:
        subprocess.run(["sha256sum", str(big)], stdout=subprocess.DEVNULL, check=True)

    big2 = folder / "big2.bin"
    big2.write_bytes(big.read_bytes())

    def ours() -> None:
        sha256_file(big)

    def ours_parallel() -> None:  # ingest hashes files on a thread pool; hashlib drops the GIL
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(sha256_file, [big, big2]))

    def cat2() -> None:
        subprocess.run(["cat", str(big), str(big2)], stdout=subprocess.DEVNULL, check=True)

    for label, cold in (("warm cache", False), ("cold cache", True)):
        if cold and not _drop_caches():
            print("cold cache: skipped (needs root to drop the page cache)")
            continue
        times = {}
        for name, fn in (("cat", cat), ("sha256sum", coreutils), ("syncline", ours),
                         ("cat2", cat2), ("syncline2", ours_parallel)):
            if cold:
                _drop_caches()
            times[name] = _timed(fn)
        print(f"hash {mb} MB, {label}: syncline {mb / times['syncline']:.0f} MB/s, "
              f"sha256sum {mb / times['sha256sum']:.0f} MB/s, cat {mb / times['cat']:.0f} MB/s "
              f"(syncline/cat time ratio {times['syncline'] / times['cat']:.2f}); two files on 2 threads: "
              f"syncline {2 * mb / times['syncline2']:.0f} MB/s vs cat {2 * mb / times['cat2']:.0f} MB/s "
              f"(ratio {times['syncline2'] / times['cat2']:.2f})")


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
