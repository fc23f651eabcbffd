"""Thin HTTP controllers: decode, call serving, encode."""
