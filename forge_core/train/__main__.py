"""python -m forge_core.train: the same as `forge train`."""

from forge_core.train.cli import main

raise SystemExit(main())
