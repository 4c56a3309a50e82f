"""Allow ``python -m changewatch``."""

from changewatch.cli import main

main()
