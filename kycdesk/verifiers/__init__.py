"""Verifiers on the tablet: a registry of who may sign in, each with their own PIN-
wrapped keys and their own encrypted store (docs/security.md, *Verifiers*).

Sits between `kycdesk.sync` and `kycdesk.persistence` (it may import persistence,
security, core and paths; sync, models, views and the app may import it).
"""
