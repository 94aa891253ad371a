"""Rich consoles shared by the CLI and the local lake (stdout for results, stderr for talk)."""

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def human_size(n: float) -> str:
    """Bytes as people read them in a table (binary units, one decimal)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
