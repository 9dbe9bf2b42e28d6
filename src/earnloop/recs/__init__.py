"""Recommendations ("Explore next"): games and merchants a user has not tried, ranked by item-item
co-occurrence blended with the expected reward, each with the item that explains it (ADR 0032)."""
