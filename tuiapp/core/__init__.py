"""The UI-free core: periods, formatting, validation, keyword templates, demo data.

Nothing in this package imports Textual; the TUI and the CLI both build on it.
"""
