"""Recommenders: classic baselines and LLM backends behind one contract (see base.py)."""
