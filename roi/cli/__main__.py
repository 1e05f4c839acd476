"""`python -m roi.cli`: the command line without the process-level tuning of `python -m roi`."""

from . import main

main()
