"""The MCP server (entry floor): ``server`` runs the official SDK's low-level server over stdio and builds
every tool error in one place; ``tools`` is the table of tools (their inputs, outputs and what each does)."""
