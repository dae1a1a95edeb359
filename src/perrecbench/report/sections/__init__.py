"""The core sections of the report, one module each: a builder (`build`) and a renderer."""
