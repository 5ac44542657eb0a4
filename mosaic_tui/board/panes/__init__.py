"""The board's panes, one module each: the kanban and its columns, the dependency pane, the top bar, the
stats footer, the agents view and the needs-attention badge. What they share: ``base``."""
