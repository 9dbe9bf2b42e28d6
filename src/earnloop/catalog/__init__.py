"""The catalog: merchants, games with milestones, campaigns (2x zones, bonuses, budgets) and pricing."""
