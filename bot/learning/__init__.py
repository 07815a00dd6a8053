"""The bot learns from its creator: stored corrections (bot/store/corrections.py) folded into the live knowledge."""
