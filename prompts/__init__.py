"""LLM instructions as editable Markdown files, loaded at run time."""
