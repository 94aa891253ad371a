"""`python -m zonelake` == `zonelake`."""

from zonelake.cli import main

main()
