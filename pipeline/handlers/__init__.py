"""Thin Lambda entry points: parse the event, call the stage with the process's context.

Nothing here touches AWS at import time; the context (settings, clients) is built on first use.
"""
