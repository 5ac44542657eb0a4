"""Reads for watching the fleet, functions of a :class:`~mosaic_tui.repository.Backlog`: the flow figures
(``flow``), the agents (``fleet``), the activity timeline (``activity``), keystones and critical paths
(``impact``)."""
