"""Other people's formats, both ways: the authors' released data and prediction files,
and any system's predictions (JSON Lines, TREC run files) through one importer.

    run_import.py    the importer: entries -> questions of the split, one-to-one checks, a run directory
    predictions.py   JSON Lines and TREC parsers (`perrecbench import-predictions`)
    release/         the authors' layout, and their prediction files' parser
"""
