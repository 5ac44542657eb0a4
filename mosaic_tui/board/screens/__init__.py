"""The board's screens, one module each: the board itself (``board``: its keys' actions), the dialogs
(``dialogs``: help, detail, form, pickers), the drawn graph (``graph``), flow (``flow``), the activity
timeline (``timeline``) and the note editor (``note``)."""
