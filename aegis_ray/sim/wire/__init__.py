"""Wire-protocol codecs of the simulated model server, one module per protocol."""
