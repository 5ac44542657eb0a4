"""The database floor: URLs and engines, schema and migrations, per-backend SQL.

Imports nothing from the floors above (repository, cli, board).
"""
