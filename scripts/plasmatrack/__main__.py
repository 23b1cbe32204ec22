import sys

from plasmatrack.cli import main

sys.exit(main())
