"""The Qt-free core: case states and their transition table, plain records, the form
schema and its validation, the sync protocol models, ids and error kinds.

It imports no PySide6 and nothing else of kycdesk (an import-linter contract checks
this), so the persistence layer, the Qt models, the sync engine and the reference
server all share one definition of each. See docs/architecture.md.
"""
