"""Analyses on the one map: site pre-check, what applies here, plan-vs-plan conflicts."""
