"""The one send workflow: outbox, error policy, engine, events, journal and log wording.

Used alike by the CLI, the TUI and the sender service; never imports Textual.
"""
