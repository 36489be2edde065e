"""The console's screens: one per tab, the node detail, and the modal dialogs."""
