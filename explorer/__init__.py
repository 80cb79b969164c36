"""The Streamlit shell of the Generative Models Explorer: navigation, theme, shared widgets,
plot helpers and the live-training runner. Pages import from here and from `core`."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run explorer/app.py` puts only explorer/ on the path
    sys.path.insert(0, str(ROOT))
