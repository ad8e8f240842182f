"""The mail's text (a structure's Mail tab): a multi-line field with the keys of a text editor.

Textual's ``TextArea`` takes Ctrl+A to the start of the line (Emacs' habit)
and has nothing on Ctrl+Début / Ctrl+Fin. Here, as in a word processor,
Ctrl+A selects the whole text, and Ctrl+Début and Ctrl+Fin reach its start
and its end. The one-line fields keep Textual's keys (Ctrl+A: start, Ctrl+E:
end of the field). F1 lists both (``tuiapp.widgets.help``).
"""

from __future__ import annotations

from textual.binding import Binding

from tuiapp.widgets.form import FormTextArea

#: What F1 says of these keys, and of the one-line fields'.
MAIL_TEXT_KEYS = [
    ("Ctrl+A", "Texte du mail : tout sélectionner"),
    ("Ctrl+Début, Ctrl+Fin", "Texte du mail : aller au début, à la fin du texte"),
]
ONE_LINE_KEYS = [
    ("Début, Ctrl+A", "Champ d'une ligne : aller au début"),
    ("Fin, Ctrl+E", "Champ d'une ligne : aller à la fin"),
    ("Ctrl+Z", "Annuler la dernière frappe"),
]


class MailTextArea(FormTextArea):
    """A multi-line text whose Ctrl+A selects everything, Ctrl+Début / Ctrl+Fin reach its start / end."""

    BINDINGS = [
        Binding("ctrl+a", "select_all", "Tout sélectionner", show=False),
        Binding("ctrl+home", "text_start", "Début du texte", show=False),
        Binding("ctrl+end", "text_end", "Fin du texte", show=False),
    ]

    def action_text_start(self) -> None:
        self.move_cursor((0, 0))

    def action_text_end(self) -> None:
        self.move_cursor(self.document.end)
