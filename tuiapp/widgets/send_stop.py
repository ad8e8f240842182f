"""The sending tab's « Arrêter l'envoi ? » (Ctrl+C while a batch runs: asked first, unlike ``c``),
and its closing when the batch ends first. Moved out of ``tuiapp.screens.sending``.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widget import Widget

from tuiapp.widgets.form import ConfirmScreen

STOP_QUESTION = ("Arrêter l'envoi ? Le message en cours part ; les factures pas encore envoyées sont "
                 "retirées de la file d'attente.")
SEND_OVER = "L'envoi est terminé : il n'y a plus rien à arrêter."


class StopQuestion:
    """The question of one panel (``widget``), while it is open."""

    def __init__(self, widget: Widget) -> None:
        self._widget = widget
        self._screen: ConfirmScreen | None = None

    def ask(self, *, still_running: Callable[[], bool], stop: Callable[[], None]) -> None:
        """A yes calls ``stop`` only while the batch asked about still runs (``still_running``)."""

        def answered(yes: bool | None) -> None:
            self._screen = None
            if yes and still_running():
                stop()
            elif yes:
                self._widget.notify(SEND_OVER)

        self._screen = ConfirmScreen(STOP_QUESTION)
        self._widget.app.push_screen(self._screen, answered)

    def close(self) -> None:
        """The batch has ended with « Arrêter l'envoi ? » still open: the question closes (its
        answer would stop nothing), and the operator is told why. Under another window, it
        stays until answered (then says the same)."""
        question, self._screen = self._screen, None
        if question is not None and question is self._widget.app.screen:
            question.dismiss(None)
            self._widget.notify(SEND_OVER)
