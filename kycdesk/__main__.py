from kycdesk.cli import main

raise SystemExit(main())
