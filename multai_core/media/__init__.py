"""Decoding and encoding media (images today) with the server's limits on hostile input."""
