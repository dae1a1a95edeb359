"""`python -m perrecbench ...` is the `perrecbench` command."""

from .cli.main import main

main()
