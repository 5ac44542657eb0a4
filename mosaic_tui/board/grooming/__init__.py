"""Grooming at keyboard speed: marks (``marks``), the status and ordering keys on the marked or selected
cards (``groom``, the one path of a status change from every screen), undo / redo (``undo``), ``$EDITOR``
(``editor``) and the grooming dialogs (``prompts``)."""
