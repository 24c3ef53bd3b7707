"""Reasoning over a model.

Diagnosis and triage, explanations, next-best questions, counterfactual
ranking and the interview.
"""
