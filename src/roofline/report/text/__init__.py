"""Terminal (rich) and Markdown renderings of each result."""
