import sys

from voxlake.cli import main

sys.exit(main())
