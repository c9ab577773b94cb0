"""The HTTP kernel and the shopper's flow: steps, tokens, wording, assets, middleware, the quiz library."""
