"""Files as the bytes a person could read out of them: the raw bytes, and for formats that
compress or encode text (Parquet pages, gzip), the decoded text as well.

A byte scan of a Snappy-compressed Parquet export finds only the IDs that happen to be stored
uncompressed; the withdrawal's footprint and ``verify`` read such files through this module.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_GZIP = (".gz", ".tgz")


class UndecodableFile(Exception):
    """A file that claims a compressed format but cannot be decoded: its text was not checked."""


def _parquet_text(path: Path) -> Iterator[bytes]:
    """Every text value of a Parquet file, one row group at a time, newline-joined."""
    pf = pq.ParquetFile(path)
    for i in range(pf.num_row_groups):
        table = pf.read_row_group(i)
        for col in table.columns:
            yield from _text_of(col)


def _text_of(col: pa.ChunkedArray) -> Iterator[bytes]:
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        values = [v for v in col.to_pylist() if v]
        if values:
            yield "\n".join(values).encode("utf-8")
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        yield from _text_of(pa.chunked_array([pc.list_flatten(c) for c in col.chunks]))
    elif pa.types.is_struct(t):
        for c in col.chunks:
            for j in range(t.num_fields):
                yield from _text_of(pa.chunked_array([c.field(j)]))


def readable_blocks(path: Path, chunk: int = 1 << 22) -> Iterator[bytes]:
    """The file's raw bytes in blocks, then (Parquet, gzip) its decoded text."""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            yield block
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            yield from _parquet_text(path)
        elif name.endswith(_GZIP):
            with gzip.open(path, "rb") as g:
                while block := g.read(chunk):
                    yield block
    except (OSError, pa.ArrowException, EOFError) as e:
        raise UndecodableFile(f"{path.name} could not be decoded ({type(e).__name__}); its text was not checked") from e
