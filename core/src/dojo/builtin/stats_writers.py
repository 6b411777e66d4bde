"""Built-in stats writers (filled in by the stats work)."""
