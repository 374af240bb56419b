"""Starts the whole system as local processes: local mode for one lab, or SaaS mode against real servers."""
