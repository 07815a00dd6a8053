"""HTTP endpoints: tracked-link redirect and conversions webhook (links.py); later a read-only dashboard."""
