"""Runnable examples of sweepcache in real services (see each one's README)."""
