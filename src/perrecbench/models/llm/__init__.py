"""LLM recommenders: providers behind one contract, and a client that owns cache, limits, logs.

Layers, bottom up: `providers/` (one small class per API) -> `client.LLMClient` (cache,
retries, concurrency, rate limits, call log, stats) -> `strategies` (point / pair / list
with resampling of unparsable answers (`max_resamples`), self-consistency) -> `recommender.LLMRecommender`.
"""
