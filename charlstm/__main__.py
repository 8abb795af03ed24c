"""`python -m charlstm`: the command line."""

import sys

from charlstm.cli.main import main

sys.exit(main())
