"""The only package that touches SQLite or case files."""
