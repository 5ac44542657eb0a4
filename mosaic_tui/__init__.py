"""mosaic-tui: a backlog of record for fleets of AI coding agents."""

__version__ = "0.1.0"
