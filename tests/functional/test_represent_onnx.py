"""A project's own encoder, loaded from a local ONNX file: its vectors equal the model computed
by hand, other weights under the same name@version are refused, a new version is stored beside
the old one, and the runs pinned to a version are listed as its dependents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx  # a dev dependency: building the test model needs it
import pytest
import yaml
from PIL import Image

from syncline.catalog import query as Q
from syncline.ingest import ingest
from syncline.project import Project, init_project
from syncline.represent.embed import embed
from syncline.represent.registry import EncoderError

pytestmark = pytest.mark.functional

SIZE = 32
MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.5)


def _model(path: Path, weights: np.ndarray) -> Path:
    """(N, 3, S, S) -> global average pool -> (N, 3) @ weights -> (N, k)."""
    from onnx import TensorProto, helper, numpy_helper

    k = weights.shape[1]
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["x"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "w"], ["y"])],
        "pool_project",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", k])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def _declare(p: Project, version: str, model: Path) -> Project:
    settings = yaml.safe_load((p.root / "syncline.yaml").read_text()) or {}
    settings["encoders"] = [{"name": "pooled-rgb", "version": version, "modality": "image", "onnx": str(model),
                             "size": SIZE, "mean": list(MEAN), "std": list(STD)}]
    (p.root / "syncline.yaml").write_text(yaml.safe_dump(settings))
    return Project.open(p.root)


def _expected(rgb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    x = (rgb.astype(np.float32) / 255.0 - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return x.reshape(-1, 3).mean(axis=0) @ weights


def test_an_onnx_encoder_from_a_local_path_versions_and_dependents(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = tmp_path / "data"
    pictures = {}
    for i in range(3):
        (data / f"pen-{i}").mkdir(parents=True)
        rgb = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)  # at the model's size: no resampling
        Image.fromarray(rgb).save(data / f"pen-{i}" / "photo.png")
        pictures[f"pen-{i}"] = rgb
    p = init_project(tmp_path / "p")
    ingest(p, [data])
    w1 = rng.normal(size=(3, 4))
    p = _declare(p, "1", _model(tmp_path / "m.onnx", w1))
    report = embed(p, ["pooled-rgb@1"])
    assert report.errors == [] and report.representations["pooled-rgb@1"]["embedded"] == 3
    assets = {a["asset_id"]: a for a in p.catalog().read("assets").to_pylist()}
    rows = p.catalog().read("embeddings", where="representation_id = 'pooled-rgb@1'").to_pylist()
    assert len(rows) == 3
    for r in rows:
        pen = Path(assets[r["asset_ids"][0]]["source_path"]).parent.name
        np.testing.assert_allclose(r["vector"], _expected(pictures[pen], w1), rtol=1e-4, atol=1e-5)

    # other weights under the same name@version: refused, nothing written
    _model(tmp_path / "m.onnx", rng.normal(size=(3, 4)))
    version = p.catalog().version("embeddings")
    with pytest.raises(EncoderError, match="new version"):
        embed(Project.open(p.root), ["pooled-rgb@1"])
    assert p.catalog().version("embeddings") == version

    # as version 2 they are stored beside version 1, which keeps its vectors
    p = _declare(p, "2", tmp_path / "m.onnx")
    assert embed(p, ["pooled-rgb@2"]).representations["pooled-rgb@2"]["embedded"] == 3
    assert p.catalog().read("embeddings", where="representation_id = 'pooled-rgb@1'").to_pylist() == rows
    p.catalog().upsert("runs", [{"run_id": "run-a", "kind": "pipeline", "representation_ids": ["pooled-rgb@1"]},
                                {"run_id": "run-b", "kind": "pipeline", "representation_ids": ["pooled-rgb@2"]}])
    with p.catalog().connect() as con:
        usage = {r["representation_id"]: r for r in Q.representation_usage(con)}
    assert usage["pooled-rgb@1"]["runs"] == ["run-a"] and usage["pooled-rgb@2"]["runs"] == ["run-b"]
    assert usage["pooled-rgb@1"]["vectors"] == usage["pooled-rgb@2"]["vectors"] == 3


def test_a_missing_or_broken_model_file_is_named_and_blocks_no_other_encoder(tmp_path: Path) -> None:
    p = init_project(tmp_path / "p")
    assert embed(_declare(p, "1", tmp_path / "absent.onnx"), ["logmel-1s@1"]).errors == []
    with pytest.raises(EncoderError, match="not found.*nothing is downloaded"):
        embed(_declare(p, "1", tmp_path / "absent.onnx"), ["pooled-rgb@1"])
    (tmp_path / "junk.onnx").write_bytes(b"not a model at all")
    with pytest.raises(EncoderError, match="junk.onnx is not a loadable ONNX model"):
        embed(_declare(p, "1", tmp_path / "junk.onnx"), ["pooled-rgb@1"])
