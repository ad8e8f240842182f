"""The Textual screens. Each screen lives in its own module with its .tcss beside it."""
