"""Scoring: per-question metrics (`metrics`), bootstrap and paired statistics (`stats`),
and loading run directories into score rows (`scorer`)."""
