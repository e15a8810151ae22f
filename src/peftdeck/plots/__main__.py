"""`python -m peftdeck.plots`: draw the deck's figures (see `peftdeck.plots.main`)."""
import sys

from . import main

sys.exit(main())
