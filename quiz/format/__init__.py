"""The quiz file format, as pydantic models: texts, conditions, products, questions and the quiz itself (pure)."""
