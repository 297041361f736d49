"""``python -m dianna_distance.cli``."""

import sys

from dianna_distance.cli import main

if __name__ == "__main__":  # run as ``python -m``; importing it (as the API reference does) runs nothing
    sys.exit(main())
