"""Development tools, never imported by the pipeline: sample data, benchmark, browser checks."""
