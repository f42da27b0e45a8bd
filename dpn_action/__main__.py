"""`python -m dpn_action` runs the command line."""

from dpn_action.cli import main

main()
