"""Crash safety: the bot as a real process, killed and restarted."""
