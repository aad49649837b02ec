"""Instant kaiwa: a warm, pre-imported process (a zygote) forks a fresh child for each call.

Bottom layer, stdlib only, imported by the entry before anything else: `paths`, `stamp`, `protocol`, `client`.
Above kaiwa.cli, imported only in the warm process itself: `server` (the zygote) and `child` (one call).
This file imports nothing.
"""
