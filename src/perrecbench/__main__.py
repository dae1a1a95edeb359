"""`python -m perrecbench ...` is the `perrecbench` command."""

from .cli.entry import main

main()
