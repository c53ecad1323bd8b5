"""``python -m webui_host`` is the ``webui-host`` command."""

import sys

from webui_host.cli import main

sys.exit(main())
