"""``python -m platform_kit.cli``: the same as the ``workbench`` script."""

import sys

from platform_kit.cli import main

sys.exit(main())
