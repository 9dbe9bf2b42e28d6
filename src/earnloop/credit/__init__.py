"""Credit (issue 17): a 350–950 score per user from what the platform knows, with per-dimension
sub-scores and plain-language reasons; the models behind it (a WOE scorecard champion, a gradient boosting
challenger), their registry and monitoring; the privileges a score unlocks."""
