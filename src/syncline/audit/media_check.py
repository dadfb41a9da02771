"""The media-quality check: every video, audio and sensor file of the catalog, decoded once,
its defects turned into findings on the entity timeline.

Each file is one unit of work: a file that cannot be read (gone, kept as embeddings only,
undecodable) is reported in the result's ``errors`` and the others go on. Spans are mapped from
the file's own time to the entity timeline through its clock, so a finding lines up with the
segments and labels of that moment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from syncline.align.segment import clock_of
from syncline.align.tuples import asset_path
from syncline.audit.findings import CheckResult, Finding, Severity
from syncline.catalog import query as Q
from syncline.media.types import MediaError
from syncline.project import Project
from syncline.timebase import Clock

ACTIONS = {
    "video.black": ("warning", "black frames (feed lost)", "treat the span as missing video; check the camera feed"),
    "video.frozen": ("warning", "frozen frames (the feed repeated a picture)",
                     "treat the span as missing video; check the encoder or network"),
    "video.blurred": ("warning", "blurred frames (sharpness fell below 30 % of the clip's)",
                      "clean or refocus the lens; keep the span as a 'blurred' slice"),
    "video.overexposed": ("warning", "over-exposed frames", "adjust exposure; keep the span as a slice"),
    "video.low_light": ("info", "low light", "a capture condition: evaluate it as a slice"),
    "audio.silent": ("warning", "silent audio (dropout)", "treat the span as missing audio; check the microphone"),
    "audio.clipped": ("warning", "clipped audio", "lower the input gain; clipped spans distort loudness features"),
    "audio.dc_offset": ("warning", "DC offset", "high-pass the recording or fix the input stage"),
    "audio.low_snr": ("info", "low signal-to-noise ratio", "a capture condition: evaluate it as a slice"),
    "sensor.stuck": ("warning", "stuck reading", "treat the span as missing; check the sensor"),
    "sensor.spike": ("warning", "spike", "drop or interpolate the reading before features"),
    "sensor.gap": ("warning", "gap (rows missing)", "do not interpolate across the gap; treat it as missing"),
    "sensor.time_backwards": ("error", "time goes backwards", "fix the logger's clock or the export"),
}


def _finding(kind: str, asset: dict[str, Any], clock: Clock, local: tuple[int, int], details: dict[str, Any],
             what: str = "") -> Finding:
    severity, noun, action = ACTIONS[kind]
    t0, t1 = clock.to_entity(local_ns=local[0]), clock.to_entity(local_ns=local[1])
    name = Path(str(asset["source_path"])).name
    sev: Severity = "error" if severity == "error" else "warning" if severity == "warning" else "info"
    return Finding(f"media.{kind}", sev, f"{name}: {noun}{what} at {local[0] / 1e9:.2f}-{local[1] / 1e9:.2f} s",
                   action, "asset", asset["asset_id"], asset["entity_id"], t0, t1,
                   details | {"local_ns": list(local), "file": name}, (asset["asset_id"],),
                   tuple(asset["subject_ids"] or ()))


def _video(project: Project, asset: dict[str, Any], clock: Clock) -> list[Finding]:
    from syncline.audit.video_quality import defect_runs, frame_stats

    stats = frame_stats(asset_path(project, asset))
    out = []
    for kind, spans in defect_runs(stats).items():
        for i0, i1 in spans:
            end = int(stats.pts_ns[i1 - 1]) + stats.frame_ns
            out.append(_finding(f"video.{kind}", asset, clock, (int(stats.pts_ns[i0]), end),
                                {"frames": [i0, i1]}))
    return out


def _audio(project: Project, asset: dict[str, Any], clock: Clock) -> list[Finding]:
    from syncline.audit.audio_quality import DC_LIMIT, SNR_MIN_DB, read_stats

    stats = read_stats(asset_path(project, asset))
    out = []
    for kind, spans in stats.defect_runs().items():
        for i0, i1 in spans:
            out.append(_finding(f"audio.{kind}", asset, clock, (stats.frame_ns(i0), stats.frame_ns(i1)),
                                {"samples": [i0 * stats.frame_len, i1 * stats.frame_len]}))
    whole = (stats.start_ns, stats.frame_ns(len(stats.rms_db)))
    dc = [float(d) for d in stats.dc]
    if max(abs(d) for d in dc) > DC_LIMIT:
        out.append(_finding("audio.dc_offset", asset, clock, whole, {"mean_per_channel": dc}))
    if stats.snr_db < SNR_MIN_DB:
        out.append(_finding("audio.low_snr", asset, clock, whole, {"snr_db": round(stats.snr_db, 1)},
                            f" ({stats.snr_db:.1f} dB)"))
    return out


def _sensor(project: Project, asset: dict[str, Any], clock: Clock) -> list[Finding]:
    from syncline.audit.sensor_quality import sensor_defects
    from syncline.media.sensor import read_sensor

    out = []
    for d in sensor_defects(read_sensor(asset_path(project, asset), asset.get("format"))):
        what = f" in {d.column}" if d.column else ""
        out.append(_finding(f"sensor.{d.kind}", asset, clock, d.local_ns,
                            {"rows": list(d.rows), "column": d.column, "value": d.value}, what))
    return out


READERS: dict[str, Callable[[Project, dict[str, Any], Clock], list[Finding]]] = {
    "video": _video, "audio": _audio, "sensor": _sensor}


def media_quality(project: Project) -> CheckResult:
    """Findings for every video, audio and sensor file; unreadable files listed, not fatal."""
    with project.catalog().connect() as con:
        assets = Q.audit_assets(con, list(READERS))
    result = CheckResult("media", ran=True)
    if not assets:
        result.ran, result.why_not = False, "no video, audio or sensor files in the catalog: ingest some first"
        return result
    for asset in assets:
        clock = clock_of(asset)
        try:
            result.findings += READERS[asset["modality"]](project, asset, clock)
        except (MediaError, OSError, ValueError) as e:
            result.errors.append(f"{Path(str(asset['source_path'])).name}: {str(e).splitlines()[0]}")
    kinds: dict[str, int] = {}
    for f in result.findings:
        kinds[f.check] = kinds.get(f.check, 0) + 1
    result.summary = {"files": len(assets), "unreadable": len(result.errors), "by_check": dict(sorted(kinds.items()))}
    return result
