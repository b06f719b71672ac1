"""Helpers for 客服微刊: every stage of the pipeline has one module here.

extracts (read + validate) -> metrics (figures) -> fmt (printing) -> charts -> issue.
"""
