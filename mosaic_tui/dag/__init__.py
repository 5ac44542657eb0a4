"""Graph code for the dependency DAG: layout (positions and edge paths) and analysis (keystones, critical path).

Pure Python below the entry floor: no textual, rich or click. Edges here run
**from a dependency to its dependent** (``(dep, card)``), the direction they are
drawn; the repository's ``Backlog.edges`` gives ``(card, dep)`` — swap them
with :func:`from_card_edges`.
"""

from __future__ import annotations

from mosaic_tui.dag.analysis import Analysis, analyse, critical_path, critical_paths, keystones
from mosaic_tui.dag.graph import acyclic, from_card_edges
from mosaic_tui.dag.layout import EdgePath, Layout, NodeBox, count_crossings, layout

__all__ = [
    "Analysis", "EdgePath", "Layout", "NodeBox", "acyclic", "analyse", "count_crossings", "critical_path", "critical_paths",
    "from_card_edges", "keystones", "layout",
]
