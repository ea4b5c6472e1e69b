"""kaohe (考核): a static site generator for party-building work assessment results."""

__version__ = "0.1.0"
