"""The PostgreSQL schema as versioned SQL files, applied once each, in order (``quiz.store.postgres``)."""
