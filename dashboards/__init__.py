"""Dashboards, recording and alert rules as code; `python -m dashboards` writes the files."""
