"""Built-in environment providers (filled in by the environments work)."""
