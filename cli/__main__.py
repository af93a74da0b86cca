"""``python -m driftgate.cli``."""

from driftgate.cli import main

main()
