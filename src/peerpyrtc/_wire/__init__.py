"""The wire codec and HTTP head screening: pure functions, no I/O."""
