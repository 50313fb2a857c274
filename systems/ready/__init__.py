"""Ready-made systems shipped with cotclip (JSON files in this folder)."""
