"""The benchmark: is the bot light, fast and flat as its data grows? Run ``python -m bench``."""
