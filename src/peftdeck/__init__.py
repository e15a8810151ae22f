"""peftdeck: how much accuracy parameter-efficient fine-tuning gives up, for how much less compute and memory."""
__version__ = "0.1.0"
