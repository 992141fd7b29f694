"""Reading and writing images, videos and audio."""
