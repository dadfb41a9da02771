"""Splits and split leakage on a real catalog: group-aware splits keep entities whole; a team's
own split that puts one entity on both sides, or the same photo (re-encoded and resized) on both
sides under two entities, is caught; bad split lines are refused by line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from syncline.audit.run import run_audit
from syncline.audit.split_leakage import NEAR_BITS, SAME_PICTURE, _fingerprint, dhash
from syncline.ingest import ingest
from syncline.project import Project, init_project
from syncline.splits import assign_splits, import_splits

pytestmark = pytest.mark.functional


def scene(seed: int) -> np.ndarray:
    """A 160x120 picture of coarse random blocks (a different picture per seed) with pixel noise."""
    rng = np.random.default_rng(seed)
    blocks = np.kron(rng.integers(0, 256, (6, 8, 3)), np.ones((20, 20, 1)))
    return np.clip(blocks + rng.normal(0, 4, blocks.shape), 0, 255).astype(np.uint8)


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    data = tmp_path / "data"
    for i in range(8):
        (data / f"pen-{i}").mkdir(parents=True)
        Image.fromarray(scene(i)).save(data / f"pen-{i}" / f"photo-{i}.png")
    copy = Image.fromarray(scene(0)).resize((128, 96))  # pen-0's photo, resized and re-encoded
    copy.save(data / "pen-7" / "copy.jpg", quality=80)
    p = init_project(tmp_path / "p")
    ingest(p, [data])
    (p.root / "labels.yaml").write_text(yaml.safe_dump({"version": 1, "fields": {
        "injury": {"kind": "perception", "granularity": "region", "type": "class", "values": ["none", "cut"]}},
        "annotators": {"vet": {"tier": "expert", "fields": ["injury"]}}}))
    from syncline.annotate.labels import write_labels

    assets = p.catalog().read("assets").to_pylist()
    res = write_labels(p, [{"field": "injury", "target_id": a["asset_id"], "annotator": "vet",
                            "value": "cut" if i % 3 == 0 else "none"} for i, a in enumerate(assets)])
    assert res.written == 9
    return p


def _ids(p: Project) -> dict[str, dict[str, str]]:
    return {Path(a["source_path"]).name: a for a in p.catalog().read("assets").to_pylist()}


def test_group_aware_splits_keep_entities_whole_and_are_stable(project: Project) -> None:
    counts = assign_splits(project, "injury", shares=(0.5, 0.25, 0.25), seed=3)
    assert sum(counts.values()) == 9
    rows = project.catalog().read("splits").to_pylist()
    by_entity: dict[str, set[str]] = {}
    for r in rows:
        by_entity.setdefault(r["entity_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_entity.values()) and len(by_entity) == 8
    again = assign_splits(project, "injury", shares=(0.5, 0.25, 0.25), seed=3)
    assert again == counts and sorted(r["split"] for r in project.catalog().read("splits").to_pylist()) == \
        sorted(r["split"] for r in rows)
    assert not [f for r in run_audit(project, ["split"]).results for f in r.findings if f.check == "split.entity"]


def test_a_split_with_one_entity_and_one_picture_on_both_sides_is_caught(project: Project, tmp_path: Path) -> None:
    ids = _ids(project)
    lines = ["target_id,split"]
    for name, a in sorted(ids.items()):
        lines.append(f"{a['asset_id']},{'test' if name in ('copy.jpg', 'photo-3.png') else 'train'}")
    (tmp_path / "bad.csv").write_text("\n".join(lines + [f"{ids['photo-1.png']['asset_id']},holdout", "nope,train"]))
    assign_splits(project, "injury")
    before = project.catalog().read("splits").to_pylist()
    with pytest.raises(ValueError, match=r"2 line\(s\) refused, nothing written — line 11: split 'holdout'"):
        import_splits(project, tmp_path / "bad.csv", "injury")
    assert project.catalog().read("splits").to_pylist() == before  # a half-right file replaces nothing
    twice = ids["photo-1.png"]["asset_id"]
    (tmp_path / "twice.csv").write_text("\n".join(lines + [f"{twice},test", f"{twice},train"]) + "\n")
    with pytest.raises(ValueError, match=r"line 11: target '.*' is put in 'test' here and in 'train' on line \d+"):
        import_splits(project, tmp_path / "twice.csv", "injury")  # the last line does not quietly win
    assert project.catalog().read("splits").to_pylist() == before
    (tmp_path / "split.csv").write_text("\n".join(lines) + "\n")
    counts, refused = import_splits(project, tmp_path / "split.csv", "injury")
    assert counts == {"train": 7, "validation": 0, "test": 2} and not refused
    (result,) = run_audit(project, ["split"]).results
    near = [f for f in result.findings if f.check == "split.near_duplicate"]
    assert len(near) == 1 and set(near[0].details["assets"]) == {ids["photo-0.png"]["asset_id"],
                                                                  ids["copy.jpg"]["asset_id"]}
    entity = [f for f in result.findings if f.check == "split.entity"]
    assert [f.details["entity"] for f in entity] == [ids["copy.jpg"]["entity_id"]]  # pen-7: photo-7 train, copy test
    unrelated = [dhash(scene(s).mean(axis=2)) for s in (1, 2)]
    assert bin(unrelated[0] ^ unrelated[1]).count("1") > 16  # different pictures are far apart


def test_the_cli_splits_and_refuses_bad_shares(project: Project) -> None:
    ok = subprocess.run([sys.executable, "-m", "syncline.cli", "split", "injury", "-p", str(project.root), "--json"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and sum(json.loads(ok.stdout)["counts"].values()) == 9
    bad = subprocess.run([sys.executable, "-m", "syncline.cli", "split", "injury", "-p", str(project.root),
                          "--shares", "0.9,0.9,0.1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "summing to 1" in bad.stderr


def test_a_subject_split_keeps_chains_of_people_together() -> None:
    from syncline.splits import _groups

    targets = [{"target_id": f"t{i}", "entity_id": f"pen-{i}", "subject_ids": [f"S{i}", f"S{i + 1}"]} for i in range(5)]
    targets += [{"target_id": "lone", "entity_id": "pen-9", "subject_ids": None},
                {"target_id": "same-pen", "entity_id": "pen-9", "subject_ids": ["S42"]}]
    groups = sorted(sorted(g) for g in _groups(targets, "subject").values())
    assert groups == [["lone", "same-pen"], ["t0", "t1", "t2", "t3", "t4"]]  # S1..S4 link pen-0..pen-4
    assert len(_groups(targets, "entity")) == 6


def test_a_copy_between_entities_that_each_span_two_splits_is_still_caught(tmp_path: Path) -> None:
    """Split per image: pen-0 and pen-1 each hold a train and a test picture, and pen-1's test
    picture is pen-0's train picture, brightened. Each file is in its own target's split (not in
    every split of its entity), so the pair is on two sides and reported; the unrelated pictures
    are not."""
    from syncline.annotate.labels import write_labels

    data = tmp_path / "data"
    pictures = {"pen-0/a1.png": scene(1), "pen-0/a2.png": scene(2),
                "pen-1/b1.png": np.clip(scene(1).astype(int) + 8, 0, 255).astype(np.uint8), "pen-1/b2.png": scene(3)}
    for rel, arr in pictures.items():
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(data / rel)
    p = init_project(tmp_path / "p")
    ingest(p, [data])
    (p.root / "labels.yaml").write_text(yaml.safe_dump({"version": 1, "fields": {
        "busy": {"kind": "perception", "granularity": "region", "type": "class", "values": ["yes", "no"]}},
        "annotators": {"vet": {"tier": "expert", "fields": ["busy"]}}}))
    ids = _ids(p)
    write_labels(p, [{"field": "busy", "target_id": a["asset_id"], "annotator": "vet", "value": "yes"}
                     for a in ids.values()])
    split = {"a1.png": "train", "a2.png": "test", "b1.png": "test", "b2.png": "train"}
    (tmp_path / "split.csv").write_text("target_id,split\n" + "".join(
        f"{ids[n]['asset_id']},{s}\n" for n, s in split.items()))
    import_splits(p, tmp_path / "split.csv", "busy")
    (result,) = run_audit(p, ["split"]).results
    near = [set(f.details["assets"]) for f in result.findings if f.check == "split.near_duplicate"]
    assert near == [{ids["a1.png"]["asset_id"], ids["b1.png"]["asset_id"]}]


def test_a_broken_label_schema_is_the_users_to_fix_and_the_other_checks_go_on(project: Project) -> None:
    """An invalid labels.yaml stops the checks that read labels with the file's first problem and
    where to see them all — not a 'failed … please report it' — and the other checks go on."""
    (project.root / "labels.yaml").write_text("version: 1\nfields:\n  injury: {kind: both, type: class}\n")
    results = {r.check: r for r in run_audit(project, ["media", "label_noise", "imbalance"]).results}
    assert "labels.yaml" not in (results["media"].why_not or "")  # its own reason: these are photos only
    for name in ("label_noise", "imbalance"):
        why = results[name].why_not or ""
        assert not results[name].ran and "labels.yaml" in why and "fields.injury.kind" in why, why
        assert "syncline schema check" in why and "please report" not in why


def test_a_second_shot_of_the_same_pen_is_not_the_same_picture(tmp_path: Path) -> None:
    """A fixed camera's two shots of one pen share everything but what moved: their dHashes can
    be as close as a re-shared copy's, so a candidate must also match pixel for pixel (the
    standardised thumbnails); the copy — smaller, re-compressed, brighter — still does."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:120, :160]
    pen = 90 + 30 * np.sin(xx / 7.0) + 10 * (yy > 70) + rng.normal(0, 3, (120, 160))

    def shot(animal_x: int, person_x: int) -> Image.Image:
        img = pen.copy()
        img[((xx - animal_x) / 22) ** 2 + ((yy - 85) / 10) ** 2 < 1] = 40  # an animal lying
        img[(np.abs(xx - person_x) < 7) & (yy > 35) & (yy < 100)] = 60  # a caretaker standing
        return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))

    shot(50, 30).save(tmp_path / "first.png")
    shot(115, 140).save(tmp_path / "second.png")
    Image.eval(shot(50, 30).resize((128, 96)), lambda v: min(255, int(v * 1.08))).save(tmp_path / "copy.jpg",
                                                                                        quality=70)
    first, second, copy = (_fingerprint(tmp_path / n) for n in ("first.png", "second.png", "copy.jpg"))
    assert bin(first[0] ^ second[0]).count("1") <= NEAR_BITS  # a candidate by its hash alone
    assert float(np.mean(first[1] * second[1])) < SAME_PICTURE
    assert bin(first[0] ^ copy[0]).count("1") <= NEAR_BITS and float(np.mean(first[1] * copy[1])) >= SAME_PICTURE
