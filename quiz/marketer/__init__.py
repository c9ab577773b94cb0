"""What the merchant's staff use: the export of leads, erasure and access for a person, the audit, the API."""
