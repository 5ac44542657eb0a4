"""Grooming in the repository: bulk actions in one transaction, reorder and delete (``bulk``), undo on the
event log (``undo``), a card as one text document for ``$EDITOR`` (``document``)."""
