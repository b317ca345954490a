"""`python -m bench --size 20000 --db sqlite|postgres [--quick]`."""

import sys

from bench.run import main

sys.exit(main())
