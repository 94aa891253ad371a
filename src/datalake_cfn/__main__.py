"""`python -m datalake_cfn` == `datalake`."""

from datalake_cfn.cli import main

main()
