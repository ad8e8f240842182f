"""Invoice PDFs, rendered from snapshots (``tuiapp.domain.documents``); never imports the database."""
