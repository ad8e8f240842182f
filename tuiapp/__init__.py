"""tuiapp: e-mail the residents' monthly contribution invoices from the terminal."""

__version__ = "0.1.0"
