"""The App Home: what is on one person's plate, read in one go."""
