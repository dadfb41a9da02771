"""Label leakage: text that states the label, and metadata that predicts it.

*Text.* For every class field, each labelled target's text is gathered per source — free-text
label fields on the same target (notes, captions), transcript words inside its span (on the
entity timeline, through the clocks), the names of its files — and searched (DuckDB regular
expressions, whole words, case-insensitive) for each class name (``down_struggling`` also as
"down struggling" / "down-struggling") and its synonyms. A source leaks a class when the
targets whose text names it carry that label far more often than the class's share: at least
3 mentions, a one-sided binomial test against the prior at p < 0.01, and a precision at least
0.3 above the prior. A model given that text learns to read, not to see.

*Metadata shortcut.* A model that sees only metadata — file-name tokens, device, camera and
microphone, capture context (lighting...), hour of capture, entity attributes; tokens only one
entity has are dropped, they cannot carry across entities — is cross-validated with entities as
groups (GroupKFold: an entity is never in training and validation at once). It is a Bernoulli
naive Bayes, so the real labels and 199 permutations of them (across entities: does metadata
predict the label at all?) are fitted in one array operation. A balanced accuracy above every
permutation but 1 % (p <= 0.01) and 0.2 above chance is a shortcut the real model can take.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.stats import binomtest

from syncline.annotate.schema import SCHEMA_FILE, LabelSchema, load_schema
from syncline.audit.findings import CannotRun, CheckResult, Finding
from syncline.catalog import query as Q
from syncline.project import Project

MIN_MENTIONS, LEAK_P, LEAK_LIFT = 3, 0.01, 0.3
SHORTCUT_P, SHORTCUT_LIFT, PERMUTATIONS = 0.01, 0.2, 199


def leakage(project: Project) -> CheckResult:
    path = project.root / SCHEMA_FILE
    if not path.exists():
        raise CannotRun(f"no label schema ({SCHEMA_FILE}): declare the label fields and import labels first")
    schema = load_schema(path)
    fields = [n for n, f in schema.fields.items() if f.type in ("class", "ordinal")]
    result = CheckResult("leakage", ran=True)
    with project.catalog().connect() as con:
        labelled = {f: Q.class_conditions(con, f, "entity") for f in fields}
        spans = {f: Q.label_target_spans(con, f) for f in fields if labelled[f]}
        notes = Q.text_labels(con, [n for n, f in schema.fields.items() if f.type == "text"])
        meta = Q.asset_metadata(con)
    if not any(labelled.values()):
        raise CannotRun("no class labels in the catalog: import labels (syncline labels import) first")
    words = _words(project, result)
    for field in [f for f in fields if labelled[f]]:
        truth = {t: v for t, _, v, _ in labelled[field]}
        texts = _texts(spans[field], notes, words, meta)
        result.findings += _text_leaks(schema, field, truth, texts, result.summary.setdefault(field, {}),
                                       {s["target_id"]: s for s in spans[field]})
        result.findings += _shortcut(field, truth, spans[field], meta, result.summary[field])
    return result


def _words(project: Project, result: CheckResult) -> pa.Table | None:
    from syncline.align.tuples import words_table

    with project.catalog().connect() as con:
        transcripts = con.sql("SELECT * FROM assets WHERE modality = 'transcript'").to_arrow_table().to_pylist()
    try:
        return words_table(project, transcripts)
    except Exception as e:  # a transcript that cannot be read leaves the words out, not the check
        result.errors.append(f"transcripts not searched: {str(e).splitlines()[0]}")
        return None


def _texts(spans: list[dict[str, Any]], notes: list[tuple[str, str, str]], words: pa.Table | None,
           meta: list[dict[str, Any]]) -> pa.Table:
    """(target_id, source, text): one row per target and source."""
    import duckdb

    targets = {s["target_id"] for s in spans}
    rows = [(t, f"note:{f}", v) for t, f, v in notes if t in targets]
    names = {m["asset_id"]: PurePath(str(m["source_path"] or "")).stem for m in meta}
    rows += [(s["target_id"], "file name", " ".join(names.get(a, "") for a in s["asset_ids"] or []))
             for s in spans]
    table = pa.table({"target_id": [r[0] for r in rows], "source": [r[1] for r in rows], "text": [r[2] for r in rows]})
    timed = [{k: s[k] for k in ("target_id", "entity_id", "t0_ns", "t1_ns")} for s in spans if s["t0_ns"] is not None]
    if words is None or not words.num_rows or not timed:
        return table
    con = duckdb.connect()
    con.register("w", words)
    con.register("s", pa.Table.from_pylist(timed))
    spoken = con.sql("""SELECT s.target_id, 'transcript' AS source, string_agg(w.text, ' ' ORDER BY w.t0_ns) AS text
                        FROM s JOIN w ON w.entity_id = s.entity_id AND w.t0_ns < s.t1_ns AND w.t1_ns > s.t0_ns
                        GROUP BY s.target_id""").to_arrow_table()
    return pa.concat_tables([table, spoken.cast(table.schema)])


def _patterns(schema: LabelSchema, field: str) -> dict[str, str]:
    spec = schema.fields[field]
    out = {}
    for v in spec.values:
        names = {v, v.replace("_", " "), v.replace("_", "-"), *spec.synonyms.get(v, [])}
        alts = "|".join(re.escape(n.lower()).replace(r"\ ", r"[\s_-]+") for n in sorted(names))
        out[v] = rf"(^|[^a-z0-9])({alts})([^a-z0-9]|$)"
    return out


def _text_leaks(schema: LabelSchema, field: str, truth: dict[str, str], texts: pa.Table,
                summary: dict[str, Any], spans: dict[str, dict[str, Any]]) -> list[Finding]:
    import duckdb

    con = duckdb.connect()
    con.register("t", texts)
    patterns = _patterns(schema, field)
    con.register("p", pa.table({"value": list(patterns), "pattern": list(patterns.values())}))
    hits = con.sql("""SELECT DISTINCT t.target_id, t.source, p.value FROM t, p
                      WHERE regexp_matches(lower(t.text), p.pattern)""").fetchall()
    prior = Counter(truth.values())
    n = len(truth)
    mentions: dict[tuple[str, str], list[str]] = {}
    for target, source, value in hits:
        if target in truth:
            mentions.setdefault((str(source), str(value)), []).append(str(target))
    out, table = [], []
    for (source, value), targets in sorted(mentions.items()):
        k = sum(1 for t in targets if truth[t] == value)
        base = prior[value] / n
        p = binomtest(k, len(targets), base, alternative="greater").pvalue if base < 1 else 1.0
        row = {"source": source, "class": value, "mentions": len(targets), "labelled_so": k,
               "precision": round(k / len(targets), 3), "prior": round(base, 3), "p": float(p)}
        table.append(row)
        if len(targets) >= MIN_MENTIONS and p < LEAK_P and k / len(targets) >= base + LEAK_LIFT:
            out.append(Finding(
                "leakage.text", "error",
                f"{field}: {source} names '{value}' on {len(targets)} target(s), {k} of them labelled so "
                f"({k / len(targets):.0%} against a {base:.0%} share)",
                f"keep {source} out of the model's inputs for {field} (or mask the class words): it states the label",
                "field", field, details=row | {"targets": sorted(targets)[:20]},
                asset_ids=tuple(sorted({a for t in targets for a in spans.get(t, {}).get("asset_ids") or []}))))
    summary["text_mentions"] = table
    return out


def _tokens(m: dict[str, Any]) -> list[str]:
    toks = [f"file:{w}" for w in re.split(r"[^a-z0-9]+", PurePath(str(m["source_path"] or "")).stem.lower()) if w]
    toks += [f"{k}={m[k]}" for k in ("device", "camera", "mic") if m[k]]
    for prefix, raw in (("ctx", m["context_json"]), ("entity", m["attrs_json"])):
        toks += [f"{prefix}:{k}={v}" for k, v in json.loads(raw or "{}").items() if isinstance(v, str | int | float)]
    if m["start_utc_ns"]:
        toks.append(f"hour={datetime.fromtimestamp(m['start_utc_ns'] / 1e9, UTC).hour}")
    return toks


def _shortcut(field: str, truth: dict[str, str], spans: list[dict[str, Any]], meta: list[dict[str, Any]],
              summary: dict[str, Any]) -> list[Finding]:
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import MultiLabelBinarizer

    by_asset = {m["asset_id"]: m for m in meta}
    rows = [(s["target_id"], s["entity_id"] or "?",
             {t for a in s["asset_ids"] or [] if a in by_asset for t in _tokens(by_asset[a])})
            for s in spans if s["target_id"] in truth]
    groups = np.array([e for _, e, _ in rows])
    classes = sorted({truth[t] for t, _, _ in rows})
    if len(set(groups)) < 3 or len(classes) < 2:
        summary["metadata_shortcut"] = {"ran": False, "why_not": "needs 3 or more entities and 2 or more classes"}
        return []
    y = np.array([classes.index(truth[t]) for t, _, _ in rows])
    ents = sorted(set(groups))
    tokens: dict[str, set[str]] = {e: set() for e in ents}  # what the entity's files say
    for _, e, toks in rows:
        tokens[e] |= toks
    spread = Counter(t for toks in tokens.values() for t in toks)
    shared = [sorted(t for t in tokens[e] if spread[t] >= 2) for e in ents]  # one entity's own names teach nothing
    x_ent = MultiLabelBinarizer().fit_transform(shared).astype(np.float64)
    index = np.array([ents.index(g) for g in groups])
    folds = list(GroupKFold(n_splits=min(5, len(ents))).split(index, y, groups))
    rng = np.random.default_rng(0)
    # the null shuffles whole entities (each target gets another entity's metadata, labels stay):
    # targets of one entity share metadata and often labels, so the entity is what can be exchanged
    perms = [np.arange(len(ents))] + [rng.permutation(len(ents)) for _ in range(PERMUTATIONS)]
    scores = np.concatenate([_nb_balanced_accuracy(np.stack([x_ent[p_[index]] for p_ in chunk]), y, folds,
                                                   len(classes)) for chunk in _chunks(perms, 20)])
    score = float(scores[0])
    p = float((1 + (scores[1:] >= score).sum()) / (1 + PERMUTATIONS))
    chance = 1.0 / len(classes)
    summary["metadata_shortcut"] = {"ran": True, "balanced_accuracy": round(score, 3), "chance": round(chance, 3),
                                    "permutation_p": round(p, 4), "features": int(x_ent.shape[1]), "targets": len(rows),
                                    "entities": len(ents)}
    if p <= SHORTCUT_P and score >= chance + SHORTCUT_LIFT:
        return [Finding("leakage.metadata_shortcut", "warning",
                        f"{field}: metadata alone (file names, devices, capture context, hour) predicts it with "
                        f"balanced accuracy {score:.2f} against chance {chance:.2f} (permutation p = {p:.3f}) on "
                        "entities it never saw",
                        "check which metadata carries it (the summary lists the features); balance the data so the "
                        "shortcut stops working, and evaluate the model on slices of that metadata",
                        "field", field, details=summary["metadata_shortcut"])]
    return []


def _chunks(items: list[np.ndarray], size: int) -> list[list[np.ndarray]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _nb_balanced_accuracy(xs: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                          k: int) -> np.ndarray:
    """Cross-validated balanced accuracy of a Bernoulli naive Bayes for many feature matrices at
    once (``xs``: permutations × targets × features; the labels ``y`` fixed), as array operations."""
    n_perm, n, _ = xs.shape
    onehot = np.eye(k)[y]                                                    # n × k
    pred = np.empty((n_perm, n), np.int64)
    for train, test in folds:
        counts = np.einsum("pnf,nk->pkf", xs[:, train], onehot[train])      # token counts per class
        n_c = onehot[train].sum(axis=0)                                      # k
        prob = (counts + 1.0) / (n_c[None, :, None] + 2.0)
        prior = np.log((n_c + 1.0) / (len(train) + k))
        ll = np.einsum("pnf,pkf->pnk", xs[:, test], np.log(prob)) + \
            np.einsum("pnf,pkf->pnk", 1 - xs[:, test], np.log1p(-prob))
        pred[:, test] = np.argmax(ll + prior[None, None, :], axis=2)
    present = [c for c in range(k) if (y == c).any()]
    recall = np.stack([(pred[:, y == c] == c).mean(axis=1) for c in present], axis=1)
    return np.asarray(recall.mean(axis=1))
