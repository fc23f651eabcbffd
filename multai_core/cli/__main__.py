import sys

from multai_core.cli import main

sys.exit(main())
