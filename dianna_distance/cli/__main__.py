"""``python -m dianna_distance.cli``."""

import sys

from dianna_distance.cli import main

sys.exit(main())
