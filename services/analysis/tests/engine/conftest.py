import sys
from pathlib import Path

# make `analysis` importable however pytest is started (rootdir = services/analysis)
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TESTDATA = Path(__file__).resolve().parents[4] / "testdata"
