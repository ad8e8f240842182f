"""The demo: its database and its local catch-all mail server."""
