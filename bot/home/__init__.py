"""The App Home: what is on one person's plate, read in one go (PRODUCT.md §2)."""
