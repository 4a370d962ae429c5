"""The window's panels, one file each: they draw from the state and its frame, and write
the user's actions back into the state.  Panels never call each other."""
