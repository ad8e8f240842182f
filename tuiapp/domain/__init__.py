"""Pure values: errors, periods, money and formats, text and address checks, templates, statuses, settings.

Imports nothing else of tuiapp, and no database, mail or UI library.
"""
