"""The wizard's screens, one module per stage; each is imported when first shown (tui.routes)."""
