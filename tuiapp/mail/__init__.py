"""Mail: message composition, the SMTP client, its problems with their French texts, the secret.

Works on invoice snapshots (``tuiapp.domain.documents``); never imports the database.
"""
