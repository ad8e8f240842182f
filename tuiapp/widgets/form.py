"""Small building blocks for the keyboard forms: a labelled one-line field, a confirm dialog."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static, TextArea

if TYPE_CHECKING:  # a mixin for widgets: typed as one, without entering their class hierarchy
    from textual.widget import Widget as _Mixin
else:
    _Mixin = object


class _OwnKeysInArrivalOrder(_Mixin):
    """Run the widget's own key bindings (Backspace, End, arrows...) as soon as the key reaches it.

    Textual inserts a typed character as soon as the key reaches the focused
    field, but runs the field's editing keys as bindings only once the key has
    bubbled up through every ancestor to the app. Keys that arrive together (a
    busy machine, a slow link, a form busy with its preview) were then applied
    out of order: on "Le Cl", a Backspace then "A" gave "Le Cl" (the "A" went
    in first, the Backspace took it back) instead of "Le CA". Running the
    field's own bindings here, in the field's queue, keeps every edit in the
    order typed. (Textual issue #6605; the app sets no keymap.)
    """

    async def _on_key(self, event: events.Key) -> None:
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()  # no further handler, and the app does not run it a second time
                return


class FormInput(_OwnKeysInArrivalOrder, Input):
    """A one-line input whose edits happen in the order of the keys, at any typing speed.

    Focused, it keeps its text unselected with the cursor at the end: Textual
    selects the whole text on focus, and the first key then replaced it (the
    surname "MAILLY" became "X", and an Input has no Ctrl+Z to get it back).
    """

    BINDINGS = [Binding("ctrl+z", "undo", "Annuler la frappe", show=False)]
    #: How many earlier texts Ctrl+Z can go back to.
    UNDO_DEPTH = 100

    _earlier: list[str] = []  # the texts before each change, the last one last
    _undoing = False

    def __init__(self, *args, select_on_focus: bool = False, **kwargs) -> None:
        super().__init__(*args, select_on_focus=select_on_focus, **kwargs)
        self._earlier = []  # the text given at first is not a change

    def _on_focus(self, event: events.Focus) -> None:  # (Textual runs Input's own after it)
        if not event.from_app_focus:  # (the terminal's focus back: the cursor stays where it was)
            self.cursor_position = len(self.value)  # a text filled in since (detected, pasted) too

    def watch_value(self, old: str, new: str) -> None:
        if not self._undoing and old != new:
            self._earlier = [*self._earlier[-self.UNDO_DEPTH + 1:], old]

    def action_undo(self) -> None:
        """Ctrl+Z: the text as it was before the last change (Textual's Input has no undo)."""
        if not self._earlier:
            return
        self._undoing = True
        try:
            self.value = self._earlier.pop()
        finally:
            self._undoing = False
        self.cursor_position = len(self.value)


class FormTextArea(_OwnKeysInArrivalOrder, TextArea):
    """A multi-line input whose edits happen in the order of the keys, at any typing speed."""


#: What a form or a window focuses when it opens (``AUTO_FOCUS``): its first field, the first
#: that can take the focus (not one hidden or disabled), in the order of the Tab key.
FIRST_FIELD = "Input, Select, Checkbox, Switch, TextArea"

#: Tab and Shift+Tab as priority bindings: the app moves the focus as it reads
#: the key, so the keys typed after it go to the next field, not the one left.
FIELD_KEYS: list[Binding | tuple[str, str] | tuple[str, str, str]] = [
    Binding("tab", "app.focus_next", show=False, priority=True),
    Binding("shift+tab", "app.focus_previous", show=False, priority=True),
]

from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_problem
from tuiapp.widgets.plain import field_text, plain


class Field(Horizontal):
    """A label, a one-line input and, below, the field's error (if any)."""

    DEFAULT_CLASSES = "field"

    def __init__(self, label: str, name: str, value: str = "", *, password: bool = False,
                 placeholder: str = "") -> None:
        super().__init__(id=f"field-{name}")
        self.label = label
        self.field_name = name
        self.value = value
        self.password = password
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="field-label")
        yield FormInput(field_text(self.value), id=self.field_name, password=self.password, placeholder=self.placeholder,
                    classes="field-input")


def cursor_key(table) -> int | None:
    """The id behind the row under a DataTable's cursor (rows are keyed by id)."""
    if not table.row_count:
        return None
    return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)


def show_errors(container, errors: dict[str, str], fields, labels: dict[str, str] | None = None) -> None:
    """Mark the fields in error and fill the form's error line, each message after its field's name."""
    labels = dict(labels or {})
    wanted = set(fields)
    # One walk of the form's widgets: a query per field walked them all each time,
    # 16 ms a key in the structure form (9 fields, the tabs, two text areas).
    for widget in container.walk_children():
        if widget.id in wanted:
            widget.set_class(widget.id in errors, "invalid")
        if isinstance(widget, Field):
            labels.setdefault(widget.field_name, widget.label)
    lines = [f"{labels.get(name, name)} : {message}" for name, message in errors.items()]
    container.query_one("#errors", Static).update(plain("\n".join(lines), multiline=True))


def show_not_saved(screen, exc: Exception) -> None:
    """A save refused by the database: said in the form's error line and in a notice."""
    message = database_problem(screen, exc, prefix="Rien n'a été enregistré. ")
    screen.query_one("#errors", Static).update(plain(message, multiline=True))  # the path is data, not markup


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; Échap means no."""

    BINDINGS = [
        Binding("o", "answer(True)", "Oui", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "Non", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(plain(self.question, multiline=True), id="question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Oui (o)", id="yes", variant="warning")
                yield Button("Non (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class FormScreen(Screen[None]):
    """A form that saves with Ctrl+S and asks before Échap drops unsaved changes.

    Subclasses give ``form_values()``, ``initial`` and ``save()`` (which raises
    ``ValidationError`` and returns the confirmation to show). A database error
    while saving (locked, read-only, disk full, damaged) is explained in French
    and the form stays open with what was typed.
    """

    BINDINGS = FIELD_KEYS
    AUTO_FOCUS = FIRST_FIELD
    initial: dict[str, str]
    TITLE_OF_NOTICES = ""

    def form_values(self) -> dict[str, str]:
        raise NotImplementedError

    def save(self) -> str:
        raise NotImplementedError

    @property
    def dirty(self) -> bool:
        return self.form_values() != self.initial

    def leave_warning(self) -> str | None:
        """Asked by the app before this screen is left some other way (Accueil, Quitter)."""
        return "Des modifications ne sont pas enregistrées : les abandonner ?" if self.dirty else None

    def action_save(self) -> None:
        from tuiapp.domain.errors import ValidationError

        try:
            done = self.save()
        except ValidationError:
            self.notify("Corrigez les champs en rouge avant d'enregistrer.", severity="error",
                        title=self.TITLE_OF_NOTICES)
            return
        except DATABASE_ERRORS as exc:
            show_not_saved(self, exc)
            return
        self.initial = self.form_values()
        self.notify(done, title=self.TITLE_OF_NOTICES)
        self.app.pop_screen()

    def action_leave(self) -> None:
        if not self.dirty:
            self.app.pop_screen()
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.app.pop_screen()

        self.app.push_screen(ConfirmScreen("Abandonner les modifications non enregistrées ?"), answered)
