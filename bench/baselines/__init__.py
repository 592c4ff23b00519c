"""Minimal baselines the handler is measured against (see plain_counter and powertools_counter)."""
