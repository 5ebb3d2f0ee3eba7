"""Widgets. Workers never touch these; results arrive by signal."""
