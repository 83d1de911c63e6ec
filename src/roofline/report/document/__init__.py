"""Shareable reports: the document model, sections per result, HTML and Markdown writers."""
