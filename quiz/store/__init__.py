"""Where records are kept: the store contract, the embedded TinyDB backend and crash-safe file writes."""
