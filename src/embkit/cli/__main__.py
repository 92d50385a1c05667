"""`python -m embkit.cli`."""

from . import main

main()
