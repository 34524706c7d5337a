"""Start the viewer: ``python main.py [IMAGE|FOLDER ...] [--checkpoint CK] [--device D]``."""

import sys

from fcnviewer.cli import main

if __name__ == "__main__":
    sys.exit(main(["view", *sys.argv[1:]]))
