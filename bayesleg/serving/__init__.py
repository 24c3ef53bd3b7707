"""Embedding bayesleg in other programs.

The JSON contract and its schemas, JSON lines over standard input and output,
and the HTTP service.
"""
