"""The command line speaks French (issue 14): the help's headings, the help option, and the errors
of a command line argparse refuses, in ``tuiapp`` and in every subcommand."""

from __future__ import annotations

import pytest

from tests.cli_runner import run_cli
from tuiapp.cli import build_parser
from tuiapp.cli.french import translate

ENGLISH = ("usage:", "options:", "positional arguments", "show this help message", "show program's version",
           "invalid choice", "value:", "required:", "is required", "expected", "error:", "choose from", "unrecognized")


def commands(parser, path=()):
    """Every command's words: ("smtp", "set"), ("send",) ... (the subcommands' parsers, walked)."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name)
                yield from commands(sub, (*path, name))


def test_the_help_is_in_french():
    helped = run_cli("--help")
    assert helped.returncode == 0
    assert helped.stdout.startswith("utilisation : tuiapp [-h] [--version]")
    for line in ("arguments :", "options :", "-h, --help    affiche cette aide et quitte",
                 "--version     affiche la version et quitte"):
        assert line in helped.stdout, line
    for word in ENGLISH:
        assert word not in helped.stdout, word


def test_every_subcommands_help_is_in_french():
    every = list(commands(build_parser()))
    assert ("smtp", "set") in every and ("resolve",) in every
    for words in every:
        helped = run_cli(*words, "--help")
        assert helped.returncode == 0, words
        assert helped.stdout.startswith(f"utilisation : tuiapp {' '.join(words)}"), words
        assert "-h, --help" in helped.stdout and "affiche cette aide et quitte" in helped.stdout, words
        for word in ENGLISH:
            assert word not in helped.stdout, (words, word)


@pytest.mark.parametrize(("args", "french"), [
    (("smtp", "set", "--port", "x"), "tuiapp smtp set : erreur : argument --port : valeur invalide : 'x' "
                                     "(un nombre entier est attendu)"),
    (("send",), "tuiapp send : erreur : arguments obligatoires manquants : --period"),
    (("send", "--period"), "tuiapp send : erreur : argument --period : une valeur est attendue"),
    (("resolve", "3", "--delivered", "--resend"), "argument --resend : incompatible avec l'argument --delivered"),
    (("resolve", "3"), "l'un des arguments --delivered --resend est obligatoire"),
    (("smtp", "set", "--security", "zz"), "argument --security : choix invalide : 'zz' (au choix : 'starttls'"),
    (("frobnicate",), "tuiapp : erreur : argument COMMANDE : choix invalide : 'frobnicate'"),
    (("history", "--bogus"), "tuiapp : erreur : arguments inconnus : --bogus"),
])
def test_a_refused_command_line_is_explained_in_french(args, french):
    refused = run_cli(*args)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("utilisation : tuiapp"), refused.stderr
    assert french in refused.stderr, refused.stderr
    for word in ENGLISH:
        assert word not in refused.stderr, (args, word)


def test_an_unknown_message_is_kept_as_argparse_wrote_it():
    assert translate("something new in Python 3.15") == "something new in Python 3.15"


def test_the_number_of_values_expected_agrees_with_it():
    assert translate("expected 1 argument") == "1 valeur attendue"
    assert translate("expected 2 arguments") == "2 valeurs attendues"
    assert translate("argument --pair: expected 2 arguments") == "argument --pair : 2 valeurs attendues"
