"""Azure Monitor for the stand-in: platform metrics computed from the traffic the ingress router
really served, the Microsoft.Insights ARM resources (metric alerts, action groups, scheduled query
rules) and an alert evaluator that fires action-group webhooks."""
