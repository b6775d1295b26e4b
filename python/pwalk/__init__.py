"""pwalk: the pwalk engine (a parallel filesystem metadata scanner) from Python.

    walk(top, ...)          os.walk(), with directories read ahead by threads
    scan(top, ...)          the engine's entries as they are found (Entry:
                            the report's columns), memory bounded
    report(top, ...)        John Dey's pwalk CSV report (zstd/gzip/lz4/plain)
    repair(top, ...)        group ownership/permission repair (repair-action)
    run(config, ...)        any YAML pipeline (file or dict), as pwalk-engine -c
    read_summary(dir)       the tables of the summary sink (report(...,
                            summary=DIR)): directory totals, users, groups,
                            the usage cube, top directories
    read_manifest(path)     the shards of a scan over MPI ranks (run/report
                            with ranks=N), refused without their manifest
    diff(old, new, ...)     what changed between two reports (the pwalk-diff
                            tool: changes, per user/group/directory growth)

report(), repair() and run() go through libpwalk (pwalk/pwalk.h), the
library the pwalk-engine command line runs, with the same plugins; the GIL
is released while the engine works, Ctrl-C stops it, and scans from several
threads run at the same time.  report() and run() take checkpoint= (a
journal), time_limit= and resume=: a scan suspended at its time limit
raises Incomplete and continues when called again with resume=.
"""

from ._types import (ConfigError, EntryError, Error, Incomplete, PluginError, Progress,
                     RepairChange, RepairResult, RepairSkip, ScanError, Summary)
from ._walk import walk
from ._scan import Entry, scan
from ._api import PLUGIN_DIR, report, repair, run, unescape
from ._mpi import IncompleteScanError, Manifest, SinkShards, read_manifest
from ._diff import DiffError, DiffResult, diff, find_diff
from ._summary import (DirTotals, GroupTotals, SummaryFormatError, SummaryTables, TopDir,
                       UsageCell, UserTotals, read_summary)

__version__ = "0.1.0"

__all__ = [
    "walk", "scan", "Entry", "report", "repair", "run", "unescape", "read_manifest",
    "IncompleteScanError", "Manifest", "SinkShards",
    "read_summary", "SummaryTables", "DirTotals", "UserTotals", "GroupTotals", "UsageCell",
    "TopDir", "SummaryFormatError",
    "diff", "find_diff", "DiffResult", "DiffError",
    "Error", "ConfigError", "PluginError", "ScanError", "Incomplete",
    "EntryError", "Summary", "Progress", "RepairResult", "RepairChange", "RepairSkip",
    "PLUGIN_DIR", "__version__",
]
