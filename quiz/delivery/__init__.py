"""Durable outbound work: the mail queue and the retry schedule shared with the LINE queue."""
