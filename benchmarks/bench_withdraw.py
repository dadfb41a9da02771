"""Consent withdrawal: one subject out of a catalog of 1M derived rows and 10k managed media files.

Target (issue): withdrawal of one subject in a catalog of 1M rows and 10k media files <= 30 s on 2 cores.

What it builds: a fresh project (``init_project``) with ``--subjects`` pseudonyms (``person-0001``...),
~500 entities, ``--media`` assets (asset_id = sha256[:32] of random bytes, a scrubbed managed copy with
its own ``managed_sha256``, one or two subjects each) whose managed copies (2-8 KB of random bytes) and
``.json`` sidecars are real files under ``media/<sha[:2]>/<sha>.bin`` as ingest writes them, a subject
and a consent row per subject, 4 runs, and ``--rows`` derived rows: 60% ``segments``, 30% ``events``,
9% ``labels`` (targets are segments) and 1% ``predictions`` (pinned to a run, so withdrawal has runs to
flag), each with the ``asset_ids``/``subject_ids`` provenance of its source asset. ``lineage`` is left
empty. The catalog is written directly through ``Catalog.upsert`` (Lance merge-insert) in batches of
``--batch`` rows, not through ingest, which would take far too long for 1M rows; the build is timed
separately and is not part of the target.

What it times (wall clock, ``time.perf_counter``), for one subject, in a child process so that its peak
RSS is measured without the build: ``withdraw(dry_run=True)`` (the footprint search alone), then
``withdraw`` (tombstones, files, rows, compaction, version cleanup, run flags, inventory rebuild, audit
log), then ``verify`` (byte scan of the whole project + read of every retained table version). It checks
that verify is clean, that every table lost exactly the footprint's rows (before - removed == after),
that rows not listing the subject are all still there, and that exactly the footprint's media files are
gone. ``--profile`` then withdraws a second subject under cProfile and prints the top functions.

    .venv/bin/python benchmarks/bench_withdraw.py [--rows 1000000] [--media 10000] [--seed 0] [--profile]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

S = 1_000_000_000
SPLIT = {"segments": 0.60, "events": 0.30, "labels": 0.09, "predictions": 0.01}
N_ENTITIES = 500
N_RUNS = 4


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _hex_ids(rng: np.random.Generator, n: int) -> pa.Array:
    """n random 32-hex-digit IDs (the shape of ``stable_id``), without a Python loop."""
    raw = rng.bytes(16 * n).hex().encode("ascii")
    return pa.array(np.frombuffer(raw, dtype="S32")).cast(pa.string())


def _single_lists(values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(np.arange(len(values) + 1, dtype=np.int32)), values)


def _upsert_batched(cat: Any, name: str, table: pa.Table, batch: int) -> int:
    commits = 0
    for i in range(0, table.num_rows, batch):
        cat.upsert(name, table.slice(i, batch))
        commits += 1
    return commits


def build(root: Path, rows: int, media: int, subjects: int, batch: int, seed: int) -> dict[str, Any]:
    """The synthetic project; returns build timings and sizes."""
    from syncline.project import init_project

    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    project = init_project(root)
    cat = project.catalog()

    # ---- subjects, entities, runs
    people = [f"person-{i:04d}" for i in range(1, subjects + 1)]
    entities = [f"ent-{i:04d}" for i in range(N_ENTITIES)]
    cat.upsert("subjects", [{"subject_id": p, "jurisdiction": "EU"} for p in people])
    cat.upsert("consent", [{"consent_id": hashlib.sha256(f"consent|{p}".encode()).hexdigest()[:32],
                            "subject_id": p, "status": "granted", "scope": ["research"],
                            "granted_at": "2024-01-01", "jurisdiction": "EU", "source": "manifest"} for p in people])
    cat.upsert("entities", [{"entity_id": e, "origin_utc_ns": 1_700_000_000 * S, "source": "convention"}
                            for e in entities])
    run_ids = _hex_ids(rng, N_RUNS).to_pylist()
    cat.upsert("runs", [{"run_id": r, "kind": "predict", "status": "finished", "model_name": "bench-model",
                         "model_version": "1", "config_json": "{}"} for r in run_ids])

    # ---- media: real managed copies + sidecars, and their asset rows
    asset_rows = []
    modalities = ["video", "audio", "image", "sensor", "transcript"]
    for i in range(media):
        original = rng.bytes(int(rng.integers(2048, 8193)))
        managed = original[: len(original) - 64] + rng.bytes(32)  # "scrubbed": tail rewritten, new hash
        sha = hashlib.sha256(original).hexdigest()
        managed_sha = hashlib.sha256(managed).hexdigest()
        rel = f"{sha[:2]}/{sha}.bin"
        dest = project.media_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(managed)
        dest.with_name(dest.name + ".json").write_text(
            json.dumps({"managed_path": rel, "managed_sha256": managed_sha, "stripped": []}), encoding="utf-8")
        subs = [people[int(rng.integers(subjects))]]
        if rng.random() < 0.2:
            other = people[int(rng.integers(subjects))]
            if other != subs[0]:
                subs.append(other)
        asset_rows.append({
            "asset_id": sha[:32], "sha256": sha, "bytes": len(original), "modality": modalities[i % len(modalities)],
            "format": "bin", "entity_id": entities[int(rng.integers(N_ENTITIES))],
            "source_path": f"/data/raw/{sha[:8]}.bin", "managed_path": rel, "managed_sha256": managed_sha,
            "stripped": [], "duration_ns": 60 * S, "start_ns": 0, "clock_offset_ns": int(rng.integers(0, 3600)) * S,
            "clock_source": "anchor", "jurisdiction": "EU", "subject_ids": subs, "ingest_version": "bench",
        })
    timings["media_files_s"] = time.perf_counter() - t
    t = time.perf_counter()
    assets = cat.conform("assets", asset_rows)
    cat.upsert("assets", assets)
    a_id, a_ent, a_subs = assets.column("asset_id").combine_chunks(), assets.column("entity_id").combine_chunks(), \
        assets.column("subject_ids").combine_chunks()

    # ---- derived rows, provenance from the source asset
    n = {t_: int(rows * f) for t_, f in SPLIT.items()}
    n["segments"] += rows - sum(n.values())
    commits = 0

    def provenance(idx: np.ndarray) -> dict[str, pa.Array]:
        ix = pa.array(idx)
        return {"entity_id": a_ent.take(ix), "asset_ids": _single_lists(a_id.take(ix)), "subject_ids": a_subs.take(ix)}

    seg_asset = rng.integers(0, media, n["segments"])
    seg_ids = _hex_ids(rng, n["segments"])
    t0 = rng.integers(0, 3600, n["segments"]).astype(np.int64) * S
    prov = provenance(seg_asset)
    commits += _upsert_batched(cat, "segments", pa.table({
        "segment_id": seg_ids, "entity_id": prov["entity_id"], "t0_ns": t0, "t1_ns": t0 + S,
        "segmenter": pa.array(["fixed-1s"] * n["segments"]), "asset_ids": prov["asset_ids"],
        "subject_ids": prov["subject_ids"],
    }), batch)

    ev_asset = rng.integers(0, media, n["events"])
    prov = provenance(ev_asset)
    kinds = np.array(["door", "motion", "speech", "light"])
    commits += _upsert_batched(cat, "events", pa.table({
        "event_id": _hex_ids(rng, n["events"]), "entity_id": prov["entity_id"],
        "t_ns": rng.integers(0, 3600 * S, n["events"]).astype(np.int64),
        "type": pa.array(kinds[rng.integers(0, len(kinds), n["events"])]),
        "state": pa.array(np.where(rng.random(n["events"]) < 0.5, "on", "off")),
        "payload_json": pa.array([f'{{"v": {v}}}' for v in rng.integers(0, 100, n["events"])]),
        "asset_ids": prov["asset_ids"], "subject_ids": prov["subject_ids"],
    }), batch)

    for table, id_col, extra in (("labels", "label_id", {"kind": "perception", "annotator": "model-x"}),
                                 ("predictions", "prediction_id", {"abstained": False})):
        m = n[table]
        target = rng.integers(0, n["segments"], m)  # a segment, so provenance follows that segment's asset
        prov = provenance(seg_asset[target])
        values = np.array(["sitting", "walking", "cooking", "sleeping"])
        cols: dict[str, Any] = {
            id_col: _hex_ids(rng, m), "target_type": pa.array(["segment"] * m),
            "target_id": seg_ids.take(pa.array(target)), "field": pa.array(["activity"] * m),
            "value": pa.array(values[rng.integers(0, len(values), m)]),
            **{k: pa.array([v] * m) for k, v in extra.items()},
            "asset_ids": prov["asset_ids"], "subject_ids": prov["subject_ids"],
        }
        if table == "labels":
            cols["confidence"] = rng.random(m)
        else:
            cols["run_id"] = pa.array(np.array(run_ids)[rng.integers(0, N_RUNS, m)])
            cols["score"] = rng.random(m)
        commits += _upsert_batched(cat, table, pa.table(cols), batch)
    timings["catalog_rows_s"] = time.perf_counter() - t
    return {**timings, "derived": n, "commits": commits, "subjects": people}


# ---------------------------------------------------------------- measurement (child process)


def _counts(project: Any, subject: str) -> dict[str, dict[str, int]]:
    """Per table: all rows, and rows that do not list ``subject`` (which must all survive)."""
    from syncline.catalog.schema import TABLES

    cat = project.catalog()
    out: dict[str, dict[str, int]] = {}
    with cat.connect() as con:
        for name, ts in TABLES.items():
            total = int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
            if "subject_ids" in ts.schema.names:
                where = "NOT list_contains(coalesce(subject_ids, []), ?)"
            elif "subject_id" in ts.schema.names:
                where = "subject_id <> ?"
            else:
                where = "? IS NOT NULL"
            others = int(con.execute(f"SELECT count(*) FROM {name} WHERE {where}", [subject]).fetchone()[0])
            out[name] = {"total": total, "others": others}
    return out


def _media_files(project: Any) -> set[str]:
    return {p.relative_to(project.media_dir).as_posix() for p in project.media_dir.rglob("*") if p.is_file()}


@contextmanager
def _time_phases(module: Any, names: list[str], by_table: bool = False) -> Iterator[dict[str, float]]:
    """Wrap ``module.<name>`` (what the library's own code looks up) to add up wall time per phase, or per
    phase and table (the function's second argument) with ``by_table``; the originals come back after."""
    spent: dict[str, float] = {} if by_table else dict.fromkeys(names, 0.0)
    originals = {name: getattr(module, name) for name in names if hasattr(module, name)}
    for name, fn in originals.items():

        def timed(*a: Any, _fn: Any = fn, _name: str = name, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                label = f"{_name} {a[1]}" if by_table else _name
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t

        setattr(module, name, timed)
    try:
        yield spent
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)


def child(root: str, subject: str, profile_subject: str | None, top: int) -> None:
    from syncline.catalog import query as Q
    from syncline.govern import purge
    from syncline.govern import verify as verify_mod
    from syncline.project import Project

    withdraw, verify = purge.withdraw, verify_mod.verify
    project = Project.open(Path(root))
    before = _counts(project, subject)
    media_before = _media_files(project)

    t = time.perf_counter()
    dry = withdraw(project, subject, dry_run=True)
    dry_s = time.perf_counter() - t
    with (_time_phases(purge, ["find", "_remove_files", "_delete_rows", "_flag_runs", "_cleanup_all",
                               "_rebuild_reports"]) as phases,
          _time_phases(Q, ["rows_mentioning"], by_table=True) as scans):
        t = time.perf_counter()
        rep = withdraw(project, subject)
        withdraw_s = time.perf_counter() - t
    phases["other"] = withdraw_s - sum(phases.values())  # tombstone + audit upserts, catalog opens
    with _time_phases(verify_mod, ["_scan_files", "_read_versions"]) as vphases:
        t = time.perf_counter()
        ver = verify(project, subject)
        verify_s = time.perf_counter() - t

    after = _counts(project, subject)
    media_after = _media_files(project)
    fp = rep.footprint
    assert fp is not None and dry.footprint is not None
    removed = {name: len(keys) for name, keys in fp.rows.items()}
    media_removed = {p.relative_to(project.media_dir).as_posix() for p in fp.media_files}
    # withdrawal adds tombstones and one audit entry; every other table loses exactly the footprint's rows
    grown = {name: after[name]["total"] - before[name]["total"] for name in ("withdrawn", "audit_log")}
    mismatches = [name for name in before if name not in grown
                  and (before[name]["total"] - removed.get(name, 0) != after[name]["total"]
                       or before[name]["others"] != after[name]["others"])]
    mismatches += [name for name, n in grown.items() if n < 1 or removed.get(name)]
    flagged = project.catalog().count("runs", where="status = 'invalidated'")
    result: dict[str, Any] = {
        "dry_s": dry_s, "withdraw_s": withdraw_s, "verify_s": verify_s, "phases": phases, "vphases": vphases,
        "scans": dict(sorted(scans.items(), key=lambda kv: -kv[1])[:5]),
        "clean": ver.clean, "hits": ver.hits[:5],
        "files_scanned": ver.files_scanned, "bytes_scanned": ver.bytes_scanned, "versions_read": ver.versions_read,
        "dry_rows": dry.footprint.row_count(), "rows_removed": removed, "assets": len(fp.assets),
        "media_removed": len(fp.media_files), "runs_flagged": len(fp.runs_flagged), "runs_invalidated": flagged,
        "rows_before": sum(c["total"] for n_, c in before.items() if n_ not in grown),
        "rows_after": sum(c["total"] for n_, c in after.items() if n_ not in grown), "grown": grown,
        "mismatches": mismatches,
        "media_ok": media_before - media_after == media_removed and media_after <= media_before,
        "media_before": len(media_before), "media_after": len(media_after), "peak_rss_mb": _rss_mb(),
    }
    if profile_subject:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        rep2 = withdraw(project, profile_subject)
        prof.disable()
        result["profile_s"] = time.perf_counter() - t
        result["profile_rows"] = rep2.footprint.row_count() if rep2.footprint else 0
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        result["profile"] = out.getvalue()
    print(json.dumps(result))


def run_child(root: Path, subject: str, profile_subject: str | None, top: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(root), subject, "--top", str(top)]
    if profile_subject:
        cmd += ["--profile-subject", profile_subject]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000, help="derived rows (segments/events/labels/predictions)")
    ap.add_argument("--media", type=int, default=10_000, help="assets, each with a managed copy and a sidecar")
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--batch", type=int, default=250_000, help="rows per upsert commit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--subject", default="person-0001", help="the subject to withdraw")
    ap.add_argument("--profile", action="store_true", help="then withdraw person-0002 under cProfile")
    ap.add_argument("--top", type=int, default=25, help="functions shown per profile table")
    ap.add_argument("--tmp", default=None, help="folder for the project (default: system temp)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--profile-subject", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.profile_subject, args.top)
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    d = Path(tempfile.mkdtemp(prefix="bench_withdraw_", dir=args.tmp))
    try:
        t = time.perf_counter()
        b = build(d / "p", args.rows, args.media, args.subjects, args.batch, args.seed)
        build_s = time.perf_counter() - t
        disk_mb = sum(p.stat().st_size for p in (d / "p").rglob("*") if p.is_file()) / 2**20
        print(f"cores={cores} rows={args.rows:,} ({', '.join(f'{k} {v:,}' for k, v in b['derived'].items())}) "
              f"media={args.media:,} (+{args.media:,} sidecars) subjects={args.subjects} seed={args.seed}")
        print(f"build: {build_s:.1f}s (media files + asset rows {b['media_files_s']:.1f}s, derived rows via "
              f"Catalog.upsert {b['catalog_rows_s']:.1f}s in {b['commits']} commits of <= {args.batch:,}); "
              f"project {disk_mb:.0f} MB on disk; builder peak RSS {_rss_mb():.0f} MB")
        profile_subject = "person-0002" if args.profile and args.subject != "person-0002" else None
        if args.profile and profile_subject is None:
            profile_subject = "person-0003"
        r = run_child(d / "p", args.subject, profile_subject, args.top)
        rows = ", ".join(f"{k} {v:,}" for k, v in sorted(r["rows_removed"].items()))
        print(f"subject {args.subject}: {r['assets']} assets, {sum(r['rows_removed'].values()):,} rows ({rows}), "
              f"{r['media_removed']} media files (copies + sidecars), {r['runs_flagged']} runs flagged")
        print(f"withdraw dry-run: {r['dry_s']:.2f}s ({r['dry_rows']:,} rows found)")
        target = "MET" if r["withdraw_s"] <= 30 else "NOT met"
        print(f"withdraw:         {r['withdraw_s']:.2f}s  (target <= 30 s on 2 cores: {target})")
        print("  phases: " + ", ".join(f"{k.lstrip('_')} {v:.2f}s" for k, v in r["phases"].items()))
        print("  slowest footprint scans: " + ", ".join(f"{k.split()[-1]} {v:.2f}s" for k, v in r["scans"].items()))
        print(f"verify:           {r['verify_s']:.2f}s  clean={r['clean']} ({r['files_scanned']:,} files, "
              f"{r['bytes_scanned'] / 2**20:.0f} MB scanned, {r['versions_read']} table versions read)"
              + (f" hits: {r['hits']}" if r["hits"] else ""))
        print("  phases: " + ", ".join(f"{k.lstrip('_')} {v:.2f}s" for k, v in r["vphases"].items()))
        ok = not r["mismatches"] and r["media_ok"] and r["clean"]
        print(f"others untouched: rows {r['rows_before']:,} - {sum(r['rows_removed'].values()):,} = "
              f"{r['rows_after']:,} (not counted: withdrawn +{r['grown']['withdrawn']} tombstones, "
              f"audit_log +{r['grown']['audit_log']}); "
              "per-table before-removed==after and rows not listing the subject unchanged: "
              f"{'yes' if not r['mismatches'] else 'NO ' + str(r['mismatches'])}; media {r['media_before']:,} -> "
              f"{r['media_after']:,} ({'exactly the footprint' if r['media_ok'] else 'MISMATCH'}); "
              f"runs invalidated {r['runs_invalidated']}")
        print(f"measuring process peak RSS {r['peak_rss_mb']:.0f} MB")
        if "profile" in r:
            print(f"\nprofiled withdraw of {profile_subject}: {r['profile_s']:.2f}s under cProfile "
                  f"({r['profile_rows']:,} rows)")
            print(r["profile"])
        print(f"{'OK' if ok else 'FAILED'}")
        print(f"reproduce: .venv/bin/python benchmarks/bench_withdraw.py --rows {args.rows} --media {args.media} "
              f"--seed {args.seed}" + (" --profile" if args.profile else ""))
        if not ok:
            sys.exit(1)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
