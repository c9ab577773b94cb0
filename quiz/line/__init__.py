"""The LINE channel: LINE Login, chat codes, the webhook, Flex messages and the persisted push queue."""
