"""`python -m gan_core ...`: the command line, built in gan_core/cli/."""

import sys

from gan_core.cli import main

sys.exit(main())
