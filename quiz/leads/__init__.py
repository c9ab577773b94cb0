"""The email channel: leads and consent records, the lead book, the opt-in, the results letter, subscriptions."""
