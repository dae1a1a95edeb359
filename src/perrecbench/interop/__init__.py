"""Other people's formats, both ways: the authors' released data and prediction files."""
