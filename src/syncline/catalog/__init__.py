"""The catalog: the hub every capability reads and writes through. Only this package touches
Lance and DuckDB. See ``store`` for the physical layout."""

import os

os.environ.setdefault("LANCE_LOG", "error")

from syncline.catalog.store import Catalog, WriteResult  # noqa: E402

__all__ = ["Catalog", "WriteResult"]
