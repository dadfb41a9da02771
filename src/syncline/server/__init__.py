"""``syncline serve``: the web app (FastAPI on 127.0.0.1, static pages bundled in the package)."""
