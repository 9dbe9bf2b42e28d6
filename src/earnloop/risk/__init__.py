"""The risk engine: every money event is screened (``screening.screen``) by the live strategy of CEL rules
over the event, its velocity features and the feature sources' fields, and the decision is recorded before
any money moves (ADR 0023, ADR 0024)."""
