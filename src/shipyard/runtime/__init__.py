"""Turning a registered version into a predictor."""
