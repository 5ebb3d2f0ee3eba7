"""Signed self-updates (docs/updates.md): the install layout and pointer (`pointer`, also
used by the stdlib-only `launcher`), release manifests (`manifest`), the TUF client over
the field transport (`fetch`, `client`) and the `kycdesk update` command (`cli`).

No Qt here: the client runs in the launcher's world, the CLI and a background task."""
