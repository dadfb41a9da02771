"""The catalog on real Lance datasets: upserts, versions, deletion vs erasure, evolution, SQL."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from syncline.catalog import Catalog
from syncline.catalog import schema as S


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_every_design_table_exists_with_its_declared_schema(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    for name in ("entities", "subjects", "assets", "segments", "events", "labels", "grades",
                 "representations", "embeddings", "predictions", "runs", "consent", "lineage",
                 "findings", "audit_log"):
        assert cat.dataset(name).schema.equals(S.spec(name).schema), name


def test_upsert_by_stable_id_never_duplicates(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    r1 = cat.upsert("entities", [{"entity_id": "e1", "source": "manifest"}, {"entity_id": "e2"}])
    r2 = cat.upsert("entities", [{"entity_id": "e1", "source": "convention"}, {"entity_id": "e3"}])
    assert (r1.inserted, r1.updated) == (2, 0)
    assert (r2.inserted, r2.updated) == (1, 1)
    rows = {r["entity_id"]: r["source"] for r in cat.read("entities").to_pylist()}
    assert rows == {"e1": "convention", "e2": None, "e3": None}


def test_duplicate_keys_inside_one_batch_keep_the_last(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    cat.upsert("entities", [{"entity_id": "e1", "source": "a"}, {"entity_id": "e1", "source": "b"}])
    assert cat.read("entities").to_pylist()[0]["source"] == "b"
    assert cat.count("entities") == 1


def test_insert_missing_leaves_existing_rows_alone(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    cat.upsert("entities", [{"entity_id": "e1", "source": "manifest"}])
    cat.insert_missing("entities", [{"entity_id": "e1", "source": "convention"}, {"entity_id": "e2"}])
    assert {r["entity_id"]: r["source"] for r in cat.read("entities").to_pylist()} == {"e1": "manifest", "e2": None}


def test_unknown_column_is_refused_with_its_name(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    with pytest.raises(ValueError, match="colour"):
        cat.upsert("entities", [{"entity_id": "e1", "colour": "red"}])


def test_version_pinning_reads_the_past(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    cat.upsert("entities", [{"entity_id": "e1"}])
    pinned = cat.snapshot()
    cat.upsert("entities", [{"entity_id": "e2"}])
    assert cat.count("entities") == 2
    assert cat.read("entities", version=pinned["entities"]).num_rows == 1
    n = cat.sql("SELECT count(*) AS n FROM entities", versions=pinned).column("n")[0].as_py()
    assert n == 1


def test_plain_delete_keeps_bytes_but_erase_removes_them_everywhere(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    secret = "subject-7f3a-withdrawn-voice"
    cat.upsert("events", [
        {"event_id": f"ev{i}", "entity_id": "e1", "t_ns": i, "type": "memo",
         "payload_json": secret if i == 3 else "keep", "subject_ids": ["s7"] if i == 3 else None}
        for i in range(10)])
    cat.upsert("events", [{"event_id": "ev11", "entity_id": "e1", "t_ns": 11, "type": "x"}])
    folder = cat.path("events")
    cat.delete("events", "array_has_any(subject_ids, ['s7'])")
    assert cat.count("events") == 10
    assert secret.encode() in _all_bytes(folder)  # a plain delete is not erasure
    cat.erase("events", "array_has_any(subject_ids, ['s7'])")
    assert secret.encode() not in _all_bytes(folder)
    assert cat.count("events") == 10
    assert len(cat.versions("events")) == 1


def test_erasing_a_whole_fragment_leaves_no_trace_in_the_newest_version(tmp_path: Path) -> None:
    """A delete that empties a fragment has nothing to compact, so its own version stays the
    newest; the predicate it committed must not name what it erased."""
    cat = Catalog(tmp_path / "cat")
    cat.upsert("subjects", [{"subject_id": "keep-1"}])
    cat.upsert("subjects", [{"subject_id": "gone-7f3a"}])  # a fragment of its own
    cat.erase("subjects", "subject_id = 'gone-7f3a'")
    assert b"gone-7f3a" not in _all_bytes(cat.path("subjects"))
    assert cat.read("subjects").column("subject_id").to_pylist() == ["keep-1"]


def test_erase_also_clears_a_vector_index_of_the_erased_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compaction only remaps a vector index: the deleted row's vector stays in the index file
    until the index is optimised. ``erase`` must leave no copy of it."""
    import numpy as np

    dim = 16
    table = S.TableSpec("face_vectors", "vec_id", pa.schema([
        pa.field("vec_id", pa.string(), nullable=False), pa.field("vector", pa.list_(pa.float32(), dim)),
        pa.field("subject_ids", pa.list_(pa.string()))]), "a fixed-size vector table")
    monkeypatch.setitem(S.TABLES, "face_vectors", table)
    cat = Catalog(tmp_path / "cat")
    vecs = np.random.default_rng(0).normal(size=(600, dim)).astype(np.float32)
    vecs[7] = 1234.5678  # the withdrawn person's face vector, easy to find in bytes
    cat.upsert("face_vectors", pa.table({
        "vec_id": [f"v{i}" for i in range(600)],
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), dim),
        "subject_ids": [["s7"] if i == 7 else None for i in range(600)]}))
    cat.dataset("face_vectors").create_index("vector", index_type="IVF_FLAT", num_partitions=4)
    needle = np.float32(1234.5678).tobytes() * 4
    indices = cat.path("face_vectors") / "_indices"
    assert needle in _all_bytes(indices)  # the index holds a copy of the vector
    cat.erase("face_vectors", "array_has_any(subject_ids, ['s7'])")
    assert needle not in _all_bytes(cat.path("face_vectors"))
    assert cat.count("face_vectors") == 599 and cat.dataset("face_vectors").describe_indices()


def test_adding_a_column_later_does_not_rewrite_existing_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = Catalog(tmp_path / "cat")
    cat.upsert("entities", [{"entity_id": f"e{i}"} for i in range(100)])
    data = cat.path("entities") / "data"
    before = {p.name: p.stat().st_mtime_ns for p in data.iterdir()}
    spec = S.spec("entities")
    evolved = S.TableSpec(spec.name, spec.key, spec.schema.append(pa.field("farm_zone", pa.string())), spec.doc)
    monkeypatch.setitem(S.TABLES, "entities", evolved)
    cat2 = Catalog(tmp_path / "cat")
    assert "farm_zone" in cat2.dataset("entities").schema.names
    assert {p.name: p.stat().st_mtime_ns for p in data.iterdir()} == before
    assert cat2.read("entities", columns=["farm_zone"]).column(0).null_count == 100
    cat2.upsert("entities", [{"entity_id": "e1", "farm_zone": "north"}])
    assert cat2.read("entities", where="entity_id = 'e1'").to_pylist()[0]["farm_zone"] == "north"
