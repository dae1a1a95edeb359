"""The authors' release (SPEC 2.2), both ways, and their prediction files.

    layout.py    file names, locating `<cat>-processed` folders, reading their JSON
    importer.py  their data -> a benchmark directory (`perrecbench import-release`)
    exporter.py  a benchmark -> their layout (`perrecbench export-release`)
    results.py   their prediction files -> run directories (`import-release-results`)
"""

from .exporter import export_release
from .importer import ReleaseImportReport, import_release
from .layout import find_release_folders
from .results import ResultsImportReport, import_release_results, parse_release_entry

__all__ = [
    "ReleaseImportReport", "ResultsImportReport", "export_release", "find_release_folders",
    "import_release", "import_release_results", "parse_release_entry",
]
