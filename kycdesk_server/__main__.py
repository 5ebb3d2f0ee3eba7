from kycdesk_server.cli import main

raise SystemExit(main())
