"""Errors raised for bad input: one line naming the file, line/row and field, and what was expected."""


class InputError(ValueError):
    """A file or value the user supplied is wrong; the message is meant to be shown as-is."""


class IndexMismatchError(InputError):
    """A saved index does not belong to the current model or catalog."""
