"""python -m forge_core.train: the same as `forge train`."""

from forge_core.train.command import main

if __name__ == "__main__":  # importing the package's modules (a test walks them all) must not train
    raise SystemExit(main())
