"""Who may: the rules about people that more than one domain asks."""
