"""The back office: reviewers and supervisors working in a browser (accounts, sessions,
the review of cases). Registered on the server's app by `register_backoffice`."""
