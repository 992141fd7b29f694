"""pirender.eval: image metrics and the `pirender evaluate` protocol."""
