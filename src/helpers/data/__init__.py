"""Stage 1: the extract contract and its validator (extracts -> validated, typed Parquet)."""
