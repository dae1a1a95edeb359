"""Model input: retrieval, prompt sets (own default and the authors' official templates), parsing."""
