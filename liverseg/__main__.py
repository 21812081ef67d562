"""`python -m liverseg ...`: the same as the `liverseg` console script."""
import sys

from liverseg.cli.main import main

sys.exit(main())
