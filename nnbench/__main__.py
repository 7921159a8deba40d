from nnbench.cli import main

raise SystemExit(main())
