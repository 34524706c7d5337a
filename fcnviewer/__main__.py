"""``python -m fcnviewer``: same as the ``fcnviewer`` command."""

import sys

from fcnviewer.cli import main

sys.exit(main())
