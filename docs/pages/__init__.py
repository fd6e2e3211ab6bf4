"""Page renderers of docs/generate.py, one module per page."""
