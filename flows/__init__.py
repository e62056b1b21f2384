"""Prefect flows: each reads like the job it does."""
