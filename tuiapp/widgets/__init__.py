"""Reusable widgets for the screens."""
