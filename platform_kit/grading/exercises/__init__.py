"""Exercise modules, one per lab (``<lab slug>.py``); every module here is imported on first use."""
