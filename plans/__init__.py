"""The plan catalogue: plans, their layers and versions, classification code tables."""
