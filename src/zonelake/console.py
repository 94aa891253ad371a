"""Rich consoles shared by the CLI and the local lake (stdout for results, stderr for talk)."""

from rich.console import Console

console = Console()
err_console = Console(stderr=True)
