"""Face blurring at ingest, judged by an independent detector.

The face is real: scikit-image ships NASA's astronaut portrait. syncline blurs with BlazeFace
(LiteRT); the judge is scikit-image's LBP frontal-face cascade, which finds the face in the
original (the test can fail) and must not find it in the managed copy. The clip pans the
portrait across the frame with a tone underneath: every frame is judged, and the audio packets
must come through byte for byte.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import skimage.data
import yaml
from PIL import Image
from skimage.feature import Cascade

from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

FACE = (177, 69, 267, 159)  # x0, y0, x1, y1 of the astronaut's face (the judge's own box on the original)
STEP, FRAMES = 8, 30


def _judge() -> Cascade:
    return Cascade(skimage.data.lbp_frontal_face_cascade_filename())


def _faces_at(cascade: Cascade, rgb: np.ndarray, box: tuple[int, int, int, int]) -> int:
    """Judge's detections whose centre lies inside ``box``."""
    dets = cascade.detect_multi_scale(img=rgb, scale_factor=1.2, step_ratio=1, min_size=(40, 40), max_size=(200, 200))
    return sum(1 for d in dets if box[0] <= d["c"] + d["width"] / 2 <= box[2]
               and box[1] <= d["r"] + d["height"] / 2 <= box[3])


def _project(root: Path, blur: bool) -> Project:
    init_project(root)
    settings = yaml.safe_load((root / "syncline.yaml").read_text())
    settings["blur_faces"] = blur
    (root / "syncline.yaml").write_text(yaml.safe_dump(settings))
    return Project.open(root)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("data")
    portrait = skimage.data.astronaut()
    Image.fromarray(portrait).save(data / "portrait.jpg", quality=92)
    frames = tmp_path_factory.mktemp("frames")
    for i in range(FRAMES):
        canvas = np.full((480, 800, 3), 40, np.uint8)
        canvas[:, 20 + STEP * i: 20 + STEP * i + 512] = portrait[:480]
        Image.fromarray(canvas).save(frames / f"{i:03d}.png")
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-framerate", "25", "-i", str(frames / "%03d.png"),
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=1.2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(data / "pan.mp4")], check=True)
    projects = {}
    for blur in (False, True):
        p = _project(tmp_path_factory.mktemp(f"proj-{blur}") / "p", blur)
        summary = ingest(p, [data])
        assert not summary.quarantined
        projects[blur] = {Path(r["source_path"]).name: r for r in p.catalog().read("assets").to_pylist()}, p
    return {"data": data, "projects": projects}


def _managed(media: dict[str, Any], blur: bool, name: str) -> tuple[Path, dict[str, Any]]:
    assets, project = media["projects"][blur]
    return project.media_dir / assets[name]["managed_path"], assets[name]


def test_the_photo_face_is_blurred_and_the_rest_of_the_picture_kept(media: dict[str, Any]) -> None:
    judge = _judge()
    plain, _ = _managed(media, False, "portrait.jpg")
    blurred, row = _managed(media, True, "portrait.jpg")
    before, after = np.asarray(Image.open(plain)), np.asarray(Image.open(blurred))
    assert _faces_at(judge, before, FACE) >= 1  # the judge sees the face without blurring
    assert _faces_at(judge, after, FACE) == 0
    assert any(s.startswith("faces:") for s in row["stripped"]), row["stripped"]
    far = np.ones(before.shape[:2], bool)
    far[:260, 100:360] = False  # the face box with its margin
    diff = np.abs(before.astype(int) - after.astype(int))[far]
    assert diff.mean() < 2.0  # only a JPEG re-encode away
    region = np.abs(before.astype(int) - after.astype(int))[FACE[1]:FACE[3], FACE[0]:FACE[2]]
    assert region.mean() > 8.0


def test_every_frame_of_the_clip_is_blurred_and_the_audio_is_untouched(media: dict[str, Any]) -> None:
    judge = _judge()
    plain, _ = _managed(media, False, "pan.mp4")
    blurred, row = _managed(media, True, "pan.mp4")

    def frames(path: Path) -> list[np.ndarray]:
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]

    def audio(path: Path) -> list[bytes]:
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(audio=0) if p.size]

    a, b = frames(plain), frames(blurred)
    assert len(a) == len(b) == FRAMES
    boxes = [(FACE[0] + 20 + STEP * i, FACE[1], FACE[2] + 20 + STEP * i, FACE[3]) for i in range(FRAMES)]
    seen_before = sum(_faces_at(judge, f, box) > 0 for f, box in zip(a, boxes, strict=True))
    seen_after = sum(_faces_at(judge, f, box) > 0 for f, box in zip(b, boxes, strict=True))
    assert seen_before >= 0.8 * FRAMES and seen_after == 0, (seen_before, seen_after)
    assert audio(plain) == audio(blurred) and len(audio(plain)) > 10
    with av.open(str(plain)) as c1, av.open(str(blurred)) as c2:
        assert [f.pts for f in c1.decode(video=0)] == [f.pts for f in c2.decode(video=0)]
    assert json.dumps(row["stripped"]).count("faces:") == 1
