"""Ray Serve HTTP API and web dashboard (the Serve application lands with the HTTP API issue)."""
