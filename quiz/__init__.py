"""The product-recommendation quiz server: see README.md for the tree and what each package is for."""
