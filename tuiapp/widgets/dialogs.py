"""Read-only and multiple-choice dialogs used by the sending tab."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiapp.widgets.form import FormInput
from tuiapp.widgets.plain import field_text, markup, plain


class PreviewScreen(ModalScreen[None]):
    """Shows a text (the exact message, a list); Échap closes."""

    BINDINGS = [Binding("escape,q,v", "close", "Fermer", id="preview.close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="preview-box"):
            yield Static(markup("[b]$title[/b]  (Échap pour fermer)", title=self.title_text))
            yield Static(plain(self.text, multiline=True), id="preview-text")

    def action_close(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """A question with a few answers, each on a key; Échap answers nothing."""

    BINDINGS = [Binding("escape", "choose('')", "Annuler", id="choice.cancel")]

    def __init__(self, question: str, choices: dict[str, tuple[str, str]]) -> None:
        """``choices``: key -> (answer value, label)."""
        super().__init__()
        self.question = question
        self.choices = choices

    def on_key(self, event) -> None:
        if event.key in self.choices:
            event.stop()
            self.dismiss(self.choices[event.key][0])

    def compose(self) -> ComposeResult:
        lines = [self.question, ""] + [f"  {key} : {label}" for key, (_, label) in self.choices.items()]
        lines.append("  Échap : ne rien faire")
        with VerticalScroll(id="choice-box"):
            yield Static(plain("\n".join(lines), multiline=True))

    def action_choose(self, value: str) -> None:
        self.dismiss(value or None)


class TextPromptScreen(ModalScreen[str | None]):
    """Asks for one line of text; Entrée answers it, Échap answers nothing."""

    BINDINGS = [Binding("escape", "cancel", "Annuler", id="prompt.cancel")]
    AUTO_FOCUS = "#prompt-answer"

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(plain(self.question, multiline=True))
            yield FormInput(field_text(self.value), id="prompt-answer", classes="field-input")
            yield Static("Entrée : valider ; Échap : annuler", classes="prompt-hint")

    def on_input_submitted(self, event) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
