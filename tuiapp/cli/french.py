"""argparse in French: the help's headings and the messages of a command line it refuses.

argparse writes its own words in English (``usage:``, ``options:``, ``show this
help message and exit``, ``invalid int value``...) and Python ships no French
catalogue for them. The parser (``tuiapp.cli.common.Parser``) uses the
formatter and the help option below, and its errors go through ``translate``:
each English message argparse may write, as a pattern, with its French.
A message not in the table stays as argparse wrote it (never lost).
"""

from __future__ import annotations

import argparse
import re

from tuiapp.domain.formatting import counted, plural

USAGE = "utilisation : "
#: The headings (argparse adds the colon: the space before it is French typography).
POSITIONALS = "arguments "
OPTIONALS = "options "
HELP = "affiche cette aide et quitte"
VERSION = "affiche la version et quitte"

#: The type functions' names in "invalid %(type)s value".
TYPE_NAMES = {"int": "un nombre entier", "float": "un nombre", "Path": "un chemin"}


class _FrenchUsage(argparse.HelpFormatter):
    """The usage line's prefix in French."""

    def add_usage(self, usage, actions, groups, prefix=None) -> None:
        super().add_usage(usage, actions, groups, USAGE if prefix is None else prefix)


def in_french(formatter: type[argparse.HelpFormatter]) -> type[argparse.HelpFormatter]:
    """``formatter`` (argparse's, or a command's own: ``RawDescriptionHelpFormatter``...) in French."""
    if issubclass(formatter, _FrenchUsage):
        return formatter
    return type(f"French{formatter.__name__}", (_FrenchUsage, formatter), {})


def _invalid_value(match: re.Match) -> str:
    kind = TYPE_NAMES.get(match["type"], match["type"])
    return f"valeur invalide : {match['value']} ({kind} est attendu)"


def _expected(match: re.Match) -> str:
    count = int(match["count"])
    return f"{counted(count, 'valeur', 'valeurs')} {plural(count, 'attendue', 'attendues')}"


#: (English pattern, French), in turn: argparse's messages of Python 3.11 to 3.14.
MESSAGES: tuple[tuple[re.Pattern[str], object], ...] = tuple((re.compile(pattern, re.DOTALL), french) for pattern, french in (
    (r"^argument (?P<name>.+?): (?P<rest>.*)$", None),  # the argument, then its own message (below)
    (r"^the following arguments are required: (?P<names>.*)$", r"arguments obligatoires manquants : \g<names>"),
    (r"^unrecognized arguments: (?P<args>.*)$", r"arguments inconnus : \g<args>"),
    (r"^one of the arguments (?P<names>.*) is required$", r"l'un des arguments \g<names> est obligatoire"),
    (r"^ambiguous option: (?P<option>\S+) could match (?P<matches>.*)$",
     r"option ambiguë : \g<option> peut désigner \g<matches>"),
    (r"^invalid (?P<type>\S+) value: (?P<value>.*)$", _invalid_value),
    (r"^invalid choice: (?P<value>.*?) \(choose from (?P<choices>.*)\)$",
     r"choix invalide : \g<value> (au choix : \g<choices>)"),
    (r"^expected one argument$", "une valeur est attendue"),
    (r"^expected at most one argument$", "une valeur au plus est attendue"),
    (r"^expected at least one argument$", "au moins une valeur est attendue"),
    (r"^expected (?P<count>\d+) arguments?$", _expected),
    (r"^not allowed with argument (?P<other>.*)$", r"incompatible avec l'argument \g<other>"),
    (r"^ignored explicit argument (?P<value>.*)$", r"valeur inattendue : \g<value>"),
))


def translate(message: str) -> str:
    """argparse's error ``message`` in French (as it is when no pattern matches)."""
    for pattern, french in MESSAGES:
        match = pattern.match(message)
        if match is None:
            continue
        if french is None:  # "argument --port: invalid int value: 'x'"
            return f"argument {match['name']} : {translate(match['rest'])}"
        if callable(french):
            return french(match)
        return match.expand(str(french))
    return message
