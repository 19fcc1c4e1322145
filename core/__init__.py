"""The shared kernel: infrastructure every app may use and that knows no app (``core`` imports
no app module). Apps call down into it; it never calls up."""
