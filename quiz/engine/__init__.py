"""The quiz engine: the shopper's path, scoring, the reasons shown, and playing every path (pure)."""
