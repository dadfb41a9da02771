"""Near-duplicate videos across a split: six pens filmed by identical fixed cameras (the same
background everywhere, a block that moves at different moments in each pen) and one clip filed a
second time under another pen — trimmed between bin edges, rescaled, brightened and re-encoded by ffmpeg. The
split check names exactly that pair; the look-alike pens and a clip without motion are not
called duplicates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from syncline.audit.run import run_audit
from syncline.audit.video_duplicates import match, signature
from syncline.ingest import ingest
from syncline.project import init_project
from syncline.splits import import_splits

pytestmark = pytest.mark.functional

FPS, SECONDS, W, H = 10, 24, 96, 64
BACKGROUND = np.kron(np.random.default_rng(0).integers(40, 200, (4, 6, 3)), np.ones((16, 16, 1)))


def _clip(path: Path, seed: int | None) -> None:
    """The shared background; a bright block that jumps to a new place at random moments (none
    when ``seed`` is None: a static clip)."""
    rng = np.random.default_rng(seed)
    moves = np.sort(rng.choice(np.arange(5, SECONDS * FPS - 5), 12, replace=False)) if seed is not None else []
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"preset": "ultrafast", "crf": "18"}
        y, x = 8, 8
        for i in range(SECONDS * FPS):
            if i in moves:
                y, x = int(rng.integers(0, H - 16)), int(rng.integers(0, W - 16))
            img = BACKGROUND.copy()
            if seed is not None:
                img[y:y + 16, x:x + 16] = 250
            img = np.clip(img + np.random.default_rng(i).normal(0, 2, img.shape), 0, 255).astype(np.uint8)
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)


def test_a_copied_clip_is_found_across_the_split_and_look_alikes_are_not(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(6):
        (data / f"pen-{i}").mkdir(parents=True)
        _clip(data / f"pen-{i}" / f"cam-{i}.mp4", i if i < 5 else None)  # pen-5: no motion
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-ss", "2.3", "-i", str(data / "pen-0" / "cam-0.mp4"),
                    "-vf", "scale=72:48,eq=brightness=0.05", "-c:v", "libx264", "-crf", "30", "-preset", "ultrafast",
                    str(data / "pen-3" / "forwarded.mp4")], check=True)
    sig = {p.name: signature(p) for p in sorted(data.rglob("*.mp4"))}
    m = match(sig["cam-0.mp4"], sig["forwarded.mp4"])
    assert m is not None and m[0] > 0.95 and abs(m[2] - 2.3) <= 0.15  # the copy starts 2.3 s in, between bin edges
    assert not sig["cam-5.mp4"].moving and match(sig["cam-5.mp4"], sig["cam-5.mp4"]) is None
    assert all(match(sig[f"cam-{a}.mp4"], sig[f"cam-{b}.mp4"]) is None for a in range(5) for b in range(a + 1, 5))

    p = init_project(tmp_path / "p")
    ingest(p, [data])
    (p.root / "labels.yaml").write_text(yaml.safe_dump({"version": 1, "fields": {
        "busy": {"kind": "perception", "granularity": "region", "type": "class", "values": ["yes", "no"]}},
        "annotators": {"vet": {"tier": "expert", "fields": ["busy"]}}}))
    from syncline.annotate.labels import write_labels

    assets = {Path(a["source_path"]).name: a for a in p.catalog().read("assets").to_pylist()}
    write_labels(p, [{"field": "busy", "target_id": a["asset_id"], "annotator": "vet", "value": "yes"}
                     for a in assets.values()])
    split = {"cam-0.mp4": "train", "cam-1.mp4": "train", "cam-2.mp4": "validation", "cam-3.mp4": "test",
             "forwarded.mp4": "test", "cam-4.mp4": "test", "cam-5.mp4": "train"}
    (tmp_path / "split.csv").write_text("target_id,split\n" + "".join(
        f"{assets[n]['asset_id']},{s}\n" for n, s in split.items()))
    import_splits(p, tmp_path / "split.csv", "busy")
    (result,) = run_audit(p, ["split"]).results
    near = [f for f in result.findings if f.check == "split.near_duplicate"]
    assert [set(f.details["assets"]) for f in near] == [{assets["cam-0.mp4"]["asset_id"],
                                                         assets["forwarded.mp4"]["asset_id"]}]
    assert near[0].details["modality"] == "video" and "same recording" in near[0].message
    assert result.summary["default"]["videos_without_motion"] == ["cam-5.mp4"]


@pytest.mark.parametrize("trim", [0.0, 0.7, 1.15, 3.35])
def test_a_copy_trimmed_anywhere_matches_at_its_trim(tmp_path: Path, trim: float) -> None:
    _clip(tmp_path / "a.mp4", 11)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-ss", str(trim), "-i", str(tmp_path / "a.mp4"),
                    "-r", "15", "-c:v", "libx264", "-crf", "28", "-preset", "ultrafast", str(tmp_path / "b.mp4")],
                   check=True)
    m = match(signature(tmp_path / "a.mp4"), signature(tmp_path / "b.mp4"))
    assert m is not None and abs(m[2] - trim) <= 0.15
