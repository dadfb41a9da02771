"""The media layer: detect a file's modality from its content, probe it, read it, scrub it.

Nothing here touches the catalog; ingest turns ``MediaInfo`` into catalog rows.
"""
