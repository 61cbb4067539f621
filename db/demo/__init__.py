"""The demo dataset: generated from a fixed seed in pure Python, loaded with COPY.

It reproduces every published figure of shared/domain.md; DATA.md says what is real, what
is synthetic and which splits were chosen.
"""

from .dataset import DemoData, generate, stream
from .load import DemoConflict, demo_is_loaded, load_demo

__all__ = ["DemoConflict", "DemoData", "demo_is_loaded", "generate", "load_demo", "stream"]
