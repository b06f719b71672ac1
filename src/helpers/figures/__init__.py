"""Stage 2: validated tables -> the quarter's figure store: every METRICS.md figure
and every table the issue draws."""
