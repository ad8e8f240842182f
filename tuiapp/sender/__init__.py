"""The sender service: on the association's server, the one process that talks to the mail server."""
