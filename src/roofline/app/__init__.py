"""The application layer: read inputs, run the core on them, return typed results.

Every front-end — the command line, the Python API (``roofline.api``), the fleet runner, the
gate's adapters and the reports — calls these functions and renders what they return; none of
them re-computes anything and none imports another front-end. Nothing here prints, parses
arguments or reads environment variables except where a function says so.
"""
