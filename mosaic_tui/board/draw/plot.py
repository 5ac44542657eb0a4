"""Bar plots drawn with Rich segments: a stacked plot (the cumulative flow diagram) and plain bars (throughput).

No plotting library: one column of cells per bucket (or more, to fill the
width), the Line API (``render_line``), so a redraw costs the visible cells
only. A single series is drawn with eighth blocks (``▁▂▃▄▅▆▇█``) for
resolution; a stack colours each cell by the series at its middle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

EIGHTHS = " ▁▂▃▄▅▆▇█"
LABEL_W = 6  # the y axis: the top value, right-aligned


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: Sequence[float]


class BarPlot(Widget):
    """Bars of one or several stacked series (bottom first), scaled to the widget's height."""

    DEFAULT_CSS = "BarPlot { height: 8; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.series: list[Series] = []
        self.top = 0.0

    def plot(self, series: list[Series]) -> None:
        self.series = series
        n = max((len(s.values) for s in series), default=0)
        totals = [sum(s.values[i] for s in series if i < len(s.values)) for i in range(n)]
        self.top = max(totals, default=0.0)
        self.refresh()

    def _geometry(self) -> tuple[int, int]:
        """(buckets, cells per bucket)."""
        n = max((len(s.values) for s in self.series), default=0)
        room = max(1, self.size.width - LABEL_W - 1)
        return n, max(1, room // n) if n else 1

    def render_line(self, y: int) -> Strip:
        height, width = self.size.height, self.size.width
        n, cw = self._geometry()
        axis = Style(dim=True)
        label = f"{self.top:g}" if y == 0 else ("0" if y == height - 1 else "")
        segments = [Segment(label.rjust(LABEL_W)[:LABEL_W] + "│", axis)]
        if not n or self.top <= 0:
            return Strip(segments).adjust_cell_length(width)
        bottom = (height - 1 - y) / height * self.top  # the value at the cell's bottom edge
        step = self.top / height
        for i in range(n):
            if len(self.series) == 1:
                v = self.series[0].values[i]
                fill = min(8, max(0, round((v - bottom) / step * 8))) if v > bottom else 0
                if v > 0 and bottom == 0:
                    fill = max(1, fill)  # a bucket with any count shows
                text, style = EIGHTHS[fill], Style(color=self.series[0].color)
            else:
                middle = bottom + step / 2
                level, text, style = 0.0, " ", Style()
                for s in self.series:
                    level += s.values[i]
                    if middle < level:
                        text, style = "█", Style(color=s.color)
                        break
            segments.append(Segment(text * cw, style))
        return Strip(segments).adjust_cell_length(width)
