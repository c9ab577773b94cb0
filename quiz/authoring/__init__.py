"""Reading and checking a merchant's files: loading, catalogs, references, located problems and the linter (pure)."""
