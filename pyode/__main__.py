from pyode.cli import main

raise SystemExit(main())
