"""The agent CLI (entry floor). Placeholder until the CLI lands."""

import sys


def main() -> None:
    from mosaic_tui.repository import Backlog, card_json  # noqa: F401

    print("mosaic-tui: CLI not built yet", file=sys.stderr)
    sys.exit(2)
